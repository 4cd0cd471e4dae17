//! What the command-line tools' `--pcap FILE` and `--trace [FILE]` ask for:
//! a pcap file of every datagram, and a readable trace of every datagram
//! followed, for each OSCORE-protected exchange, by its inner request and
//! response ([`InnerTrace`]), both in one file or on standard error.

use super::{InnerTrace, PcapWriter, TapSink, TraceSink};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// The taps and the inner-exchange layer of one process.
#[derive(Default)]
pub struct Capture {
    /// Datagram sinks for the endpoint (pcap, trace).
    pub taps: Vec<Arc<dyn TapSink>>,
    /// With a trace: the layer to put inside the OSCORE server layer.
    pub inner: Option<InnerTrace>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("taps", &self.taps.len())
            .field("inner", &self.inner.is_some())
            .finish()
    }
}

impl Capture {
    /// Opens what was asked for: `pcap` creates (truncates) a pcap file;
    /// `trace` is `None` for no trace, `Some(None)` for standard error and
    /// `Some(Some(path))` for a file that is created (truncated).
    ///
    /// # Errors
    /// A file that cannot be created; the message names it.
    pub fn open(pcap: Option<&Path>, trace: Option<Option<&Path>>) -> io::Result<Self> {
        let mut capture = Self::default();
        if let Some(path) = pcap {
            let writer = PcapWriter::create(path).map_err(|e| named("pcap file", path, e))?;
            capture.taps.push(Arc::new(writer));
        }
        if let Some(target) = trace {
            let out: Box<dyn Write + Send> = match target {
                Some(path) => {
                    Box::new(std::fs::File::create(path).map_err(|e| named("trace file", path, e))?)
                }
                None => Box::new(io::stderr()),
            };
            // Datagrams and inner exchanges share the writer, line by line.
            let out = LineSharedWriter::new(out);
            capture
                .taps
                .push(Arc::new(TraceSink::new(Box::new(out.share()))));
            capture.inner = Some(InnerTrace::new(Box::new(out)));
        }
        Ok(capture)
    }
}

fn named(what: &str, path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{what} {}: {error}", path.display()))
}

/// A writer shared by several users (the datagram trace, the inner-exchange
/// lines): each user's output goes out when it ends a line, in one piece, so
/// a record of several lines from one formatted write is never split by
/// another user's lines.
pub struct LineSharedWriter {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    pending: Vec<u8>,
}

impl std::fmt::Debug for LineSharedWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LineSharedWriter")
    }
}

impl LineSharedWriter {
    /// The first user of `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Arc::new(Mutex::new(out)),
            pending: Vec::new(),
        }
    }

    /// Another user of the same output, with its own pending line.
    pub fn share(&self) -> Self {
        Self {
            out: self.out.clone(),
            pending: Vec::new(),
        }
    }

    fn write_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let result = out.write_all(&self.pending).and_then(|()| out.flush());
        self.pending.clear();
        result
    }
}

impl Write for LineSharedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.ends_with(b"\n") {
            self.write_pending()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_pending()
    }
}

impl Drop for LineSharedWriter {
    fn drop(&mut self) {
        let _ = self.write_pending();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink whose content the test can read.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_of_two_users_do_not_interleave() {
        let sink = Shared::default();
        let mut a = LineSharedWriter::new(Box::new(sink.clone()));
        let mut b = a.share();
        a.write_all(b"a1 ").unwrap();
        b.write_all(b"b1\n").unwrap();
        a.write_all(b"a2\nsecond ").unwrap();
        a.write_all(b"line\n").unwrap();
        b.write_all(b"unfinished").unwrap();
        drop(b);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "b1\na1 a2\nsecond line\nunfinished");
    }

    #[test]
    fn a_file_that_cannot_be_created_is_named() {
        let path = Path::new("/nonexistent-dir-of-ace-coap/x.pcap");
        let error = Capture::open(Some(path), None).unwrap_err();
        assert!(error.to_string().contains("x.pcap"), "{error}");
        let capture = Capture::open(None, None).unwrap();
        assert!(capture.taps.is_empty() && capture.inner.is_none());
    }
}
