//! What an import shows while it runs: a progress bar on a terminal (files,
//! bytes, rate, time left), plain lines every few seconds otherwise (a log,
//! a CI job).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

const PLAIN_EVERY: Duration = Duration::from_secs(2);

pub struct Progress {
    files: u64,
    bytes: u64,
    bar: Option<ProgressBar>,
    plain: Mutex<Plain>,
}

struct Plain {
    started: Instant,
    last: Instant,
    files_done: u64,
    bytes_done: u64,
}

impl Progress {
    pub fn new(files: u64, bytes: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(bytes);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {msg} files, {bytes}/{total_bytes}, {binary_bytes_per_sec}, {eta} left",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(format!("0/{files}"));
            bar
        });
        let now = Instant::now();
        Progress {
            files,
            bytes,
            bar,
            plain: Mutex::new(Plain {
                started: now,
                last: now,
                files_done: 0,
                bytes_done: 0,
            }),
        }
    }

    /// One file finished (in, already there, or failed): its bytes count.
    pub fn file_done(&self, bytes: u64) {
        let mut plain = self
            .plain
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        plain.files_done += 1;
        plain.bytes_done += bytes;
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
            bar.set_message(format!("{}/{}", plain.files_done, self.files));
            return;
        }
        let now = Instant::now();
        if now.duration_since(plain.last) >= PLAIN_EVERY || plain.files_done == self.files {
            plain.last = now;
            eprintln!("{}", plain.line(self.files, self.bytes));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

impl Plain {
    fn line(&self, files: u64, bytes: u64) -> String {
        let elapsed = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = self.bytes_done as f64 / elapsed;
        let left = if rate > 0.0 {
            format!(
                "{:.0} s",
                (bytes - self.bytes_done.min(bytes)) as f64 / rate
            )
        } else {
            "unknown".to_owned()
        };
        format!(
            "progress: {}/{files} files, {:.1} of {:.1} MB, {:.1} MB/s, {left} left",
            self.files_done,
            self.bytes_done as f64 / 1e6,
            bytes as f64 / 1e6,
            rate / 1e6,
        )
    }
}
