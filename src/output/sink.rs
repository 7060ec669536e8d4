//! Where rows go: `<out>.partial`, renamed to `<out>` only when the run is
//! complete (flushed and fsynced first), or stdout.
//!
//! Compressed outputs end a gzip member / zstd frame at every checkpoint,
//! so the partial file is always a valid concatenation up to the last
//! checkpoint's offset, and a resumed run simply appends new members after
//! cutting the file back to it. Both formats allow concatenation: any gzip
//! or zstd reader decodes the whole file.
//!
//! A Parquet output is a [`ParquetFile`] instead of a byte stream; the
//! methods here dispatch to it.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use super::parquet::{Layout, ParquetFile};
use super::{Compression, Target};
use crate::store::safefs::{self, Existing, FileMode};

/// Buffer size of the output: few, large write calls.
const BUFFER: usize = 256 * 1024;
/// zstd level: fast, still ~4x smaller than plain text for chat rows.
const ZSTD_LEVEL: i32 = 3;

/// The underlying byte stream, counting what reaches it.
struct Counted {
    inner: Box<dyn Write + Send>,
    /// The file, for fsync (None for stdout).
    file: Option<File>,
    pos: u64,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The current member/frame (or plain bytes).
enum Stream {
    /// No member open: the next write starts one.
    Idle(Counted),
    Plain(Counted),
    Gzip(flate2::write::GzEncoder<Counted>),
    Zstd(zstd::stream::write::Encoder<'static, Counted>),
}

impl Stream {
    fn start(c: Counted, compression: Compression) -> io::Result<Stream> {
        Ok(match compression {
            Compression::None => Stream::Plain(c),
            Compression::Gzip => Stream::Gzip(flate2::write::GzEncoder::new(
                c,
                flate2::Compression::default(),
            )),
            Compression::Zstd => Stream::Zstd(zstd::stream::write::Encoder::new(c, ZSTD_LEVEL)?),
        })
    }

    /// End the open member, if any, and return the byte stream.
    fn end(self) -> io::Result<Counted> {
        match self {
            Stream::Idle(c) | Stream::Plain(c) => Ok(c),
            Stream::Gzip(e) => e.finish(),
            Stream::Zstd(e) => e.finish(),
        }
    }
}

/// The open output.
pub struct Sink {
    stream: Option<Stream>,
    compression: Compression,
    /// (partial, final) paths for a file output.
    paths: Option<(PathBuf, PathBuf)>,
    /// How errors name it.
    name: String,
    /// A Parquet output (then `stream` is unused).
    parquet: Option<ParquetFile>,
}

impl Sink {
    /// Open the output before any request, so a bad path fails at once. A
    /// file output starts a fresh `<out>.partial`.
    pub fn create(
        target: &Target,
        compression: Compression,
        mode: FileMode,
    ) -> anyhow::Result<Sink> {
        match target {
            Target::Stdout => Ok(Sink::stream(
                Box::new(BufWriter::with_capacity(BUFFER, io::stdout())),
                compression,
                "stdout",
            )),
            Target::Special(path) => {
                let inner = open_special(path)
                    .with_context(|| format!("cannot open {} for writing", path.display()))?;
                Ok(Sink::stream(
                    Box::new(BufWriter::with_capacity(BUFFER, inner)),
                    compression,
                    &path.display().to_string(),
                ))
            }
            Target::File(path) => Sink::open_file(path, compression, None, mode),
        }
    }

    /// A sink over any byte stream (stdout; a buffer in tests): no partial
    /// file, no fsync, flushed after every customer.
    pub fn stream(inner: Box<dyn Write + Send>, compression: Compression, name: &str) -> Sink {
        Sink {
            stream: Some(Stream::Idle(Counted {
                inner,
                file: None,
                pos: 0,
            })),
            compression,
            paths: None,
            name: name.to_string(),
            parquet: None,
        }
    }

    /// Start a Parquet output: `<out>.partial` and `<out>.staged`.
    pub fn create_parquet(
        path: &Path,
        layout: Arc<Layout>,
        mode: FileMode,
    ) -> anyhow::Result<Sink> {
        Ok(Sink::of_parquet(ParquetFile::create(path, layout, mode)?))
    }

    /// Reopen an interrupted Parquet output at a checkpoint's lengths.
    pub fn resume_parquet(
        path: &Path,
        layout: Arc<Layout>,
        out_bytes: u64,
        staged_bytes: u64,
        mode: FileMode,
    ) -> anyhow::Result<Sink> {
        let file = ParquetFile::resume(path, layout, out_bytes, staged_bytes, mode)?;
        Ok(Sink::of_parquet(file))
    }

    fn of_parquet(file: ParquetFile) -> Sink {
        Sink {
            stream: None,
            compression: Compression::None,
            paths: None,
            name: file.name(),
            parquet: Some(file),
        }
    }

    /// Reopen `<out>.partial`, cut back to `offset`, to append to it.
    pub fn resume(
        path: &Path,
        compression: Compression,
        offset: u64,
        mode: FileMode,
    ) -> anyhow::Result<Sink> {
        Sink::open_file(path, compression, Some(offset), mode)
    }

    fn open_file(
        path: &Path,
        compression: Compression,
        resume_at: Option<u64>,
        mode: FileMode,
    ) -> anyhow::Result<Sink> {
        let partial = crate::store::paths::partial(path);
        let existing = match resume_at {
            Some(_) => Existing::Keep,
            None => Existing::Truncate,
        };
        let mut file = safefs::open(&partial, mode, existing, false)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let pos = resume_at.unwrap_or(0);
        if resume_at.is_some() {
            file.set_len(pos)
                .and_then(|_| file.seek(SeekFrom::Start(pos)))
                .with_context(|| format!("cannot cut {} back to {pos} bytes", partial.display()))?;
        }
        let sync = file
            .try_clone()
            .with_context(|| format!("cannot open {}", partial.display()))?;
        Ok(Sink {
            stream: Some(Stream::Idle(Counted {
                inner: Box::new(BufWriter::with_capacity(BUFFER, file)),
                file: Some(sync),
                pos,
            })),
            compression,
            name: partial.display().to_string(),
            paths: Some((partial, path.to_path_buf())),
            parquet: None,
        })
    }

    /// Append one customer's encoded rows (`rows` of them).
    pub fn write_rows(&mut self, bytes: &[u8], rows: u64) -> io::Result<()> {
        match &mut self.parquet {
            Some(p) => p.write(bytes, rows),
            None => self.write(bytes),
        }
    }

    /// Append bytes (a header; rows go through [`Sink::write_rows`]).
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.parquet.is_some() {
            return Err(io::Error::other("Parquet takes rows, not bytes"));
        }
        let stream = match self.stream.take().ok_or_else(broken)? {
            Stream::Idle(c) => Stream::start(c, self.compression)?,
            open => open,
        };
        let stream = self.stream.insert(stream);
        match stream {
            Stream::Idle(_) => unreachable!("just started"),
            Stream::Plain(c) => c.write_all(bytes),
            Stream::Gzip(e) => e.write_all(bytes),
            Stream::Zstd(e) => e.write_all(bytes),
        }
    }

    /// Push buffered plain bytes to the OS (after each customer on stdout,
    /// so a pipe reader sees rows as they come).
    pub fn flush(&mut self) -> io::Result<()> {
        if self.parquet.is_some() {
            return Ok(());
        }
        match self.stream.as_mut().ok_or_else(broken)? {
            Stream::Idle(c) | Stream::Plain(c) => c.flush(),
            Stream::Gzip(e) => e.flush(),
            Stream::Zstd(e) => e.flush(),
        }
    }

    /// How errors name the output: the partial file, or the stream.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is a stream (stdout), not a file.
    pub fn is_stream(&self) -> bool {
        self.paths.is_none() && self.parquet.is_none()
    }

    /// Whether the writer should checkpoint now, whatever the time: a
    /// Parquet row group is full.
    pub fn wants_checkpoint(&self) -> bool {
        self.parquet.as_ref().is_some_and(ParquetFile::group_full)
    }

    /// Length of the staged rows at the last checkpoint (Parquet; 0 for
    /// the other formats), which the journal records.
    pub fn staged_len(&self) -> u64 {
        self.parquet.as_ref().map_or(0, ParquetFile::staged_len)
    }

    /// The journal recorded the last checkpoint (Parquet drops the staged
    /// rows a row group took).
    pub fn checkpointed(&mut self) -> io::Result<()> {
        match &mut self.parquet {
            Some(p) => p.checkpointed(),
            None => Ok(()),
        }
    }

    /// A consistent point: end the open member, flush and fsync. Returns the
    /// output's length, which the journal records.
    pub fn checkpoint(&mut self) -> io::Result<u64> {
        if let Some(p) = &mut self.parquet {
            return p.checkpoint();
        }
        // A member that fails to end leaves the stream unusable: `stream`
        // stays `None` and every later call reports the output as broken.
        let mut c = self.stream.take().ok_or_else(broken)?.end()?;
        let result = c.flush().and_then(|_| match &c.file {
            Some(f) => f.sync_data(),
            None => Ok(()),
        });
        let pos = c.pos;
        self.stream = Some(Stream::Idle(c));
        result.map(|_| pos)
    }

    /// The run is complete: checkpoint, then rename the partial file into place.
    pub fn commit(mut self) -> anyhow::Result<()> {
        if let Some(p) = self.parquet.take() {
            return p.commit();
        }
        self.checkpoint()
            .with_context(|| format!("cannot write the output {}", self.name))?;
        if let Some((partial, path)) = &self.paths {
            drop(self.stream.take());
            std::fs::rename(partial, path).with_context(|| {
                format!("cannot rename {} to {}", partial.display(), path.display())
            })?;
            safefs::sync_dir(path);
        }
        Ok(())
    }

    /// The run stopped before it committed any customer: remove the
    /// partial file it created, so the next run has nothing to resume.
    pub fn discard(mut self) -> anyhow::Result<()> {
        if let Some(p) = self.parquet.take() {
            return p.discard();
        }
        drop(self.stream.take());
        match self.paths.take() {
            Some((partial, _)) => safefs::remove_if_present(&partial),
            None => Ok(()),
        }
    }

    /// The run stopped early: checkpoint and keep the partial file.
    pub fn keep_partial(mut self) -> anyhow::Result<Option<PathBuf>> {
        if let Some(p) = self.parquet.take() {
            return p.keep_partial().map(Some);
        }
        self.checkpoint()
            .with_context(|| format!("cannot write the output {}", self.name))?;
        Ok(self.paths.take().map(|(partial, _)| partial))
    }
}

/// Open an existing device, FIFO or socket to stream rows into. The
/// operator named it, and it is not a file the run could replace, so a
/// link to it (`/dev/stdout`) is followed.
fn open_special(path: &Path) -> io::Result<Box<dyn Write + Send>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if std::fs::metadata(path)?.file_type().is_socket() {
            return Ok(Box::new(std::os::unix::net::UnixStream::connect(path)?));
        }
    }
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    // The name was a device, FIFO or socket when the run was checked; if it
    // has since become a regular file (or a link to one), writing it in
    // place would overwrite a file the run does not own.
    let kind = file.metadata()?.file_type();
    if kind.is_file() || kind.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "it is no longer a device, FIFO or socket: refusing to write into it",
        ));
    }
    Ok(Box::new(file))
}

/// The error of every call after the output failed to end a member.
fn broken() -> io::Error {
    io::Error::other("the output failed earlier and cannot be written any more")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn decompress(compression: Compression, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match compression {
            Compression::None => out = bytes.to_vec(),
            Compression::Gzip => {
                flate2::read::MultiGzDecoder::new(bytes)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Compression::Zstd => {
                zstd::stream::read::Decoder::new(bytes)
                    .unwrap()
                    .read_to_end(&mut out)
                    .unwrap();
            }
        }
        out
    }

    /// Writing, checkpointing, writing past the checkpoint, then resuming
    /// from the checkpoint gives the same content as one clean pass.
    #[test]
    fn resume_after_a_checkpoint_decodes_to_the_clean_content() {
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("x.out");
            let mut sink =
                Sink::create(&Target::File(out.clone()), compression, FileMode::default()).unwrap();
            sink.write(b"header\n").unwrap();
            sink.write(b"row 1\n").unwrap();
            let offset = sink.checkpoint().unwrap();
            sink.write(b"row 2, lost in a crash\n").unwrap();
            sink.flush().unwrap();
            drop(sink);

            let mut sink = Sink::resume(&out, compression, offset, FileMode::default()).unwrap();
            sink.write(b"row 2\n").unwrap();
            sink.checkpoint().unwrap();
            sink.write(b"row 3\n").unwrap();
            sink.commit().unwrap();
            let bytes = std::fs::read(&out).unwrap();
            assert_eq!(
                String::from_utf8(decompress(compression, &bytes)).unwrap(),
                "header\nrow 1\nrow 2\nrow 3\n",
                "{compression:?}"
            );
            assert!(!crate::store::paths::partial(&out).exists());
        }
    }
}
