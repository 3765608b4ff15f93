//! One decoding pass over a source with symphonia, a packet at a time, as
//! interleaved i16.

use std::io::{ErrorKind, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};

use symphonia::core::audio::{SampleBuffer, SignalSpec};
use symphonia::core::codecs::{CODEC_TYPE_NULL, Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::RedactError;

pub(super) struct Decoding {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    buffer: Option<SampleBuffer<i16>>,
    /// The first decoded packet's: every later one must match, or the
    /// output could not be one WAV.
    spec: Option<SignalSpec>,
}

impl Decoding {
    /// Opens a pass; with `expected`, every packet must have that spec
    /// (a second pass over what a first one measured).
    pub(super) fn open(
        source: Box<dyn MediaSource>,
        hint: &Hint,
        expected: Option<SignalSpec>,
    ) -> Result<Self, RedactError> {
        let stream = MediaSourceStream::new(source, Default::default());
        // Gapless trimming stays off, as in ingestion's probe: span offsets
        // are measured on the same timeline the rest of callvault decodes.
        let probed = guard(|| {
            symphonia::default::get_probe().format(
                hint,
                stream,
                &FormatOptions::default(),
                &MetadataOptions::default(),
            )
        })?
        .map_err(readable_error)?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|track| track.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| RedactError::Unsupported("no audio track".into()))?;
        let track_id = track.id;
        let params = track.codec_params.clone();
        let decoder =
            guard(|| symphonia::default::get_codecs().make(&params, &DecoderOptions::default()))?
                .map_err(readable_error)?;
        Ok(Self {
            format,
            decoder,
            track_id,
            buffer: None,
            spec: expected,
        })
    }

    /// The spec every packet so far had.
    pub(super) fn signal_spec(&self) -> Option<SignalSpec> {
        self.spec
    }

    /// Sample rate and channel count, once a packet has decoded.
    pub(super) fn spec(&self) -> Option<(u32, u16)> {
        let spec = self.spec?;
        let channels = u16::try_from(spec.channels.count()).ok()?;
        Some((spec.rate, channels))
    }

    /// The next packet's samples, interleaved; `None` at the end.
    pub(super) fn next_chunk(&mut self) -> Result<Option<&mut [i16]>, RedactError> {
        loop {
            let packet = match guard(|| self.format.next_packet())? {
                Ok(packet) => packet,
                // symphonia's end of stream.
                Err(SymphoniaError::IoError(error)) if error.kind() == ErrorKind::UnexpectedEof => {
                    return Ok(None);
                }
                Err(SymphoniaError::ResetRequired) => {
                    return Err(RedactError::Unsupported(
                        "audio changes format midway".into(),
                    ));
                }
                Err(error) => return Err(readable_error(error)),
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            // A packet that fails to decode is fatal, though players skip
            // it: skipping would shift every later sample, and the spans
            // with them, onto audio they were not meant for.
            let decoded = guard(|| self.decoder.decode(&packet))?.map_err(readable_error)?;
            let spec = *decoded.spec();
            if spec.channels.count() == 0 || spec.rate == 0 {
                return Err(RedactError::Unsupported(
                    "audio without channels or rate".into(),
                ));
            }
            match self.spec {
                None => self.spec = Some(spec),
                Some(first) if first != spec => {
                    return Err(RedactError::Unsupported(
                        "audio changes rate or channels midway".into(),
                    ));
                }
                Some(_) => {}
            }
            if decoded.frames() == 0 {
                continue;
            }
            let needed = decoded.capacity() * spec.channels.count();
            if !matches!(&self.buffer, Some(buffer) if buffer.capacity() >= needed) {
                self.buffer = None;
            }
            let buffer = self
                .buffer
                .get_or_insert_with(|| SampleBuffer::new(decoded.capacity() as u64, spec));
            buffer.copy_interleaved_ref(decoded);
            return Ok(Some(buffer.samples_mut()));
        }
    }

    /// The source, back at its start, for another pass.
    pub(super) fn into_source(self) -> Result<Box<dyn MediaSource>, RedactError> {
        let mut stream = self.format.into_inner();
        stream.seek(SeekFrom::Start(0))?;
        Ok(Box::new(stream))
    }
}

/// Runs a symphonia call, turning a panic into a refusal: a third-party
/// parser meeting input nobody thought of must not take the export down
/// (ingestion's probe does the same).
fn guard<T>(call: impl FnOnce() -> T) -> Result<T, RedactError> {
    catch_unwind(AssertUnwindSafe(call))
        .map_err(|_| RedactError::Unreadable("the audio decoder failed on this input".into()))
}

/// symphonia's messages describe the format, never the audio.
fn readable_error(error: SymphoniaError) -> RedactError {
    match error {
        SymphoniaError::IoError(error) => RedactError::Io(error),
        SymphoniaError::Unsupported(what) => RedactError::Unsupported(what.to_owned()),
        other => RedactError::Unreadable(other.to_string()),
    }
}
