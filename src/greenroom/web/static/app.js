// greenroom in the browser: camera -> server (WebRTC) -> processed video back, plus room peers.
// No build step, no dependencies. window.greenroom exposes the state for tests and debugging.
"use strict";

const $ = (id) => document.getElementById(id);
const ROOM = (location.pathname.match(/^\/room\/([A-Za-z0-9_-]{1,64})\/?$/) || [])[1] || null;
const SLOTS = 5; // receive slots offered in a room: up to 5 other participants

const state = {
  config: null, pc: null, channel: null, camera: null, session: null, token: null,
  selfMid: null, slots: {}, image: "rocket", stats: {}, server: {}, pingSent: 0,
};
window.greenroom = state;

function message(text) { $("message").textContent = text || ""; }
function status(text) { $("status").textContent = text; }

function currentEffect() {
  const kind = document.querySelector('input[name="effect"]:checked').value;
  if (kind === "blur") return { effect: "blur", strength: Number($("strength").value) };
  if (kind === "color") return { effect: "color", color: $("color").value };
  if (kind === "image") return { effect: "image", image: state.image };
  return { effect: kind };
}

function send(msg) {
  if (state.channel && state.channel.readyState === "open") state.channel.send(JSON.stringify(msg));
}
function sendEffect() { send({ type: "effect", ...currentEffect() }); }

async function loadConfig() {
  state.config = await (await fetch("/api/config")).json();
  for (const name of state.config.models) $("model").add(new Option(name, name));
  for (const item of state.config.gallery) {
    const img = document.createElement("img");
    Object.assign(img, { src: item.url, alt: item.name, title: item.name });
    img.dataset.id = item.id;
    img.addEventListener("click", () => chooseImage(item.id));
    $("gallery").append(img);
  }
  markImage();
  $("where").textContent = ROOM ? `room ${ROOM}` : "private session";
}

function markImage() {
  for (const img of $("gallery").querySelectorAll("img")) {
    img.classList.toggle("chosen", img.dataset.id === state.image);
  }
}

function chooseImage(id) {
  state.image = id;
  markImage();
  document.querySelector('input[name="effect"][value="image"]').checked = true;
  sendEffect();
}

async function listCameras() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const select = $("camera");
  const chosen = select.value;
  select.length = 1;
  for (const d of devices.filter((d) => d.kind === "videoinput")) {
    select.add(new Option(d.label || `camera ${select.length}`, d.deviceId));
  }
  select.value = chosen;
}

function waitForIce(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000); // enough host candidates by then; never hang
  });
}

function tile(mid) {
  let fig = state.slots[mid];
  if (!fig) {
    fig = document.createElement("figure");
    fig.className = "tile peer";
    fig.hidden = true;
    fig.innerHTML = "<video autoplay muted playsinline></video><figcaption></figcaption>";
    fig.dataset.mid = mid;
    $("videos").append(fig);
    state.slots[mid] = fig;
  }
  return fig;
}

function showPeers(slots) {
  for (const slot of slots) {
    const fig = tile(slot.mid);
    fig.hidden = !slot.peer;
    fig.dataset.peer = slot.peer || "";
    fig.querySelector("figcaption").textContent = slot.name || "";
  }
}

function onMessage(event) {
  let msg;
  try { msg = JSON.parse(event.data); } catch { return; }
  if (msg.type === "stats") {
    state.server = msg;
    $("server-ms").textContent = msg.ms == null ? "-" : `${msg.ms} ms`;
    $("server-latency").textContent = msg.latency_ms == null ? "-" : `${msg.latency_ms} ms`;
    $("dropped").textContent = `${msg.dropped} of ${msg.frames_in}`;
    if (msg.error) message(msg.error);
  } else if (msg.type === "peers") {
    showPeers(msg.slots);
  } else if (msg.type === "pong") {
    $("ping").textContent = `${(performance.now() - msg.t).toFixed(0)} ms`;
  } else if (msg.type === "error") {
    message(msg.error);
  }
}

async function start() {
  message("");
  try {
    status("opening camera");
    const [w, h] = ($("size").value || "x").split("x").map(Number);
    const video = $("camera").value ? { deviceId: { exact: $("camera").value } } : {};
    if (w) Object.assign(video, { width: { ideal: w }, height: { ideal: h } });
    state.camera = await navigator.mediaDevices.getUserMedia({ video, audio: false });
    listCameras().catch(() => {});

    status("connecting");
    const pc = new RTCPeerConnection({ iceServers: state.config.iceServers });
    state.pc = pc;
    const channel = pc.createDataChannel("control");
    state.channel = channel;
    channel.onmessage = onMessage;
    channel.onopen = () => sendEffect();
    const [track] = state.camera.getVideoTracks();
    state.selfTransceiver = pc.addTransceiver(track, { direction: "sendrecv" });
    if (ROOM) for (let i = 0; i < SLOTS; i++) pc.addTransceiver("video", { direction: "recvonly" });
    pc.ontrack = (event) => {
      const stream = new MediaStream([event.track]);
      if (event.transceiver === state.selfTransceiver) $("self").srcObject = stream;
      else tile(event.transceiver.mid).querySelector("video").srcObject = stream;
    };
    pc.onconnectionstatechange = () => {
      status(pc.connectionState);
      if (pc.connectionState === "failed") message("connection failed");
    };
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIce(pc);
    const response = await fetch("/api/offer", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        sdp: pc.localDescription.sdp, type: "offer", room: ROOM,
        model: $("model").value, effect: currentEffect(),
      }),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
    state.session = answer.session;
    state.token = answer.token; // the secret that alone may change or close this session
    await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
    $("start").disabled = true;
    $("stop").disabled = false;
    if (state.pendingUpload) upload(state.pendingUpload);
  } catch (error) {
    message(String(error.message || error));
    stop();
  }
}

// Requests about our own session carry its secret token. keepalive: still sent while unloading.
function sessionPost(what, body, type) {
  return fetch(`/api/session/${state.session}/${what}`, {
    method: "POST", body, keepalive: what === "close",
    headers: { "Content-Type": type, Authorization: `Bearer ${state.token}` },
  });
}

function leave() {
  if (state.session) sessionPost("close", "{}", "application/json").catch(() => {});
}

function stop() {
  leave();
  if (state.pc) state.pc.close();
  if (state.camera) for (const t of state.camera.getTracks()) t.stop();
  Object.assign(state, { pc: null, channel: null, camera: null, session: null, token: null });
  for (const fig of Object.values(state.slots)) fig.remove();
  state.slots = {};
  $("self").srcObject = null;
  $("start").disabled = false;
  $("stop").disabled = true;
  status("stopped");
}

async function upload(file) {
  if (file.size > state.config.limits.uploadBytes) {
    message(`picture too large (limit ${state.config.limits.uploadBytes / 1048576} MB)`);
    return;
  }
  if (!state.session) { state.pendingUpload = file; return; } // sent once connected
  state.pendingUpload = null;
  const response = await sessionPost("background", file, file.type || "application/octet-stream");
  const answer = await response.json();
  if (!response.ok) { message(answer.error); return; }
  message("");
  state.image = "upload";
  markImage();
  document.querySelector('input[name="effect"][value="image"]').checked = true;
}

let last = {};
async function pollStats() {
  const pc = state.pc;
  if (!pc) return;
  const report = await pc.getStats();
  const now = {};
  report.forEach((s) => {
    if (s.type === "outbound-rtp" && s.kind === "video") now.sent = s.framesEncoded;
    if (s.type === "inbound-rtp" && s.kind === "video" && s.mid === state.selfTransceiver.mid) {
      now.received = s.framesDecoded;
    }
    if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime != null) {
      now.rtt = s.currentRoundTripTime;
    }
  });
  const t = performance.now();
  if (last.t) {
    const dt = (t - last.t) / 1000;
    if (now.sent != null && last.sent != null) {
      $("fps-in").textContent = `${((now.sent - last.sent) / dt).toFixed(1)} fps`;
    }
    if (now.received != null && last.received != null) {
      $("fps-out").textContent = `${((now.received - last.received) / dt).toFixed(1)} fps`;
    }
  }
  if (now.rtt != null) $("rtt").textContent = `${(now.rtt * 1000).toFixed(0)} ms`;
  state.stats = now;
  last = { ...now, t };
  send({ type: "ping", t: performance.now() });
}

$("start").addEventListener("click", start);
$("stop").addEventListener("click", stop);
$("effects").addEventListener("change", (event) => {
  if (event.target.id === "upload") return;
  const radio = { color: "color", strength: "blur" }[event.target.id];
  if (radio) document.querySelector(`input[name="effect"][value="${radio}"]`).checked = true;
  $("strength-value").textContent = $("strength").value;
  sendEffect();
});
$("strength").addEventListener("input", () => {
  $("strength-value").textContent = $("strength").value;
});
$("model").addEventListener("change", () => send({ type: "model", model: $("model").value }));
$("upload").addEventListener("change", () => {
  if ($("upload").files[0]) upload($("upload").files[0]).catch((e) => message(String(e)));
});
window.addEventListener("pagehide", leave);
setInterval(() => pollStats().catch(() => {}), 1000);
loadConfig().catch((error) => message(`cannot load settings: ${error}`));
