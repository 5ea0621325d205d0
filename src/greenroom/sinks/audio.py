"""Re-encoding an audio stream a container cannot hold (AAC into WebM) to Opus, in step.

The video sinks copy audio packets unchanged whenever the output container can hold the codec.
When it cannot (WebM holds only Opus and Vorbis), dropping the sound is the wrong answer for a
talk or a meeting, so the stream is decoded and encoded to Opus instead. Timing is kept by
stamping every decoded frame with its time in the input, converted to 48 kHz samples (Opus'
only clock); PyAV's encoder regroups the samples into the frames Opus needs.
"""

from __future__ import annotations

from fractions import Fraction

import av
import av.error

#: Opus runs at 48 kHz whatever the input's rate; its encoder resamples.
OPUS_RATE = 48000
OPUS_TIME_BASE = Fraction(1, OPUS_RATE)


class OpusTranscoder:
    """Decode one input audio stream and encode it to Opus into `container`'s new stream."""

    def __init__(self, template: av.audio.stream.AudioStream, container: av.container.Container):
        source = template.codec_context
        self.decoder = av.CodecContext.create(source.name, "r")
        if source.extradata:
            self.decoder.extradata = source.extradata
        self.decoder.sample_rate = source.sample_rate
        self.decoder.layout = source.layout
        channels = min(source.channels or 2, 2)  # Opus' default mapping: mono or stereo
        self.stream = container.add_stream("libopus", rate=OPUS_RATE)
        self.stream.layout = "mono" if channels == 1 else "stereo"
        self.stream.bit_rate = 64000 * channels
        self.stream.time_base = OPUS_TIME_BASE
        if template.language:
            self.stream.metadata["language"] = template.language
        self._mux = container.mux_one
        self._next: int | None = None  # pts of the next sample, in OPUS_TIME_BASE

    def push(self, packet: av.Packet) -> None:
        """Decode one input packet and mux whatever Opus packets come out."""
        time_base = packet.time_base
        try:
            frames = self.decoder.decode(packet)
        except av.error.FFmpegError:
            return  # a damaged packet: a few ms of silence, as a player would give
        for frame in frames:
            self._encode(frame, time_base)

    def _encode(self, frame: av.AudioFrame, time_base: Fraction | None) -> None:
        start = None
        if frame.pts is not None and time_base is not None:
            start = round(frame.pts * time_base * OPUS_RATE)
        if start is None or (self._next is not None and abs(start - self._next) < 2 * 960):
            start = self._next if self._next is not None else 0  # no jitter from rounding
        frame.pts = start
        frame.time_base = OPUS_TIME_BASE
        self._next = start + round(frame.samples * OPUS_RATE / frame.sample_rate)
        for packet in self.stream.encode(frame):
            self._mux(packet)

    def flush(self) -> None:
        """Drain the decoder and the encoder at the end of the stream."""
        try:
            for frame in self.decoder.decode(None):
                self._encode(frame, None)
        except av.error.FFmpegError:
            pass
        for packet in self.stream.encode(None):
            self._mux(packet)
