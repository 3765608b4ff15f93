//! Seals (or opens) a file or stdin with a random data key, streaming with
//! constant memory, and reports its own peak memory. Used by
//! benches/envelope.sh for the age comparison and the memory goal.
//!
//! Usage: seal_file seal <in or -> <out>

use std::io::{Read, Write};

use callvault_envelope::{DEFAULT_FRAME_SIZE, DataKey, ObjectContext, Sealer};

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, input, output] = args.as_slice() else {
        eprintln!("usage: seal_file seal <in|-> <out>");
        std::process::exit(2);
    };
    if mode != "seal" {
        eprintln!("unknown mode {mode}");
        std::process::exit(2);
    }
    let mut reader: Box<dyn Read> = if input == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(input)?)
    };
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(output)?);
    let key = DataKey::generate();
    let mut sealer = Sealer::new(
        &key,
        ObjectContext::new("tenant", "recording"),
        DEFAULT_FRAME_SIZE,
    )
    .map_err(std::io::Error::other)?;
    writer.write_all(&sealer.header())?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total: u64 = 0;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        writer.write_all(&sealer.update(&buf[..n]))?;
    }
    writer.write_all(&sealer.finish())?;
    writer.flush()?;
    eprintln!(
        "sealed_bytes={total} peak_rss_kib={}",
        peak_rss_kib().unwrap_or(0)
    );
    Ok(())
}
