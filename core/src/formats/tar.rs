//! A bundle as one `.tar` download (POSIX ustar, with a pax header for a
//! path that ustar cannot hold), for a reviewer who wants the files as
//! they are after a review rather than a JSON document of them.

use super::File;

const BLOCK: usize = 512;

/// The files as a tar archive: each a regular file, mode 0644, modified at
/// `mtime` (seconds since the Unix epoch), in the order given. Paths that
/// are not ASCII or longer than ustar's 100 bytes (or its 155-byte prefix
/// and 100-byte name) go in a pax extended header before their file.
pub fn tar(files: &[File], mtime: u64) -> Vec<u8> {
    let size: usize = files.iter().map(|f| 3 * BLOCK + padded(f.content.len())).sum();
    let mut out = Vec::with_capacity(size + 2 * BLOCK);
    for f in files {
        let (prefix, name) = match ustar_path(&f.path) {
            Some(split) => split,
            None => {
                let record = pax_record("path", &f.path);
                let name = format!("PaxHeaders/{}", f.path.len());
                push_entry(&mut out, "", &name, b'x', record.as_bytes(), mtime);
                ("", "pax-path")
            }
        };
        push_entry(&mut out, prefix, name, b'0', f.content.as_bytes(), mtime);
    }
    out.resize(out.len() + 2 * BLOCK, 0);
    out
}

/// The ustar prefix and name of `path`, if it fits them as ASCII.
fn ustar_path(path: &str) -> Option<(&str, &str)> {
    if !path.is_ascii() || path.bytes().any(|b| b == 0) {
        return None;
    }
    if path.len() <= 100 {
        return Some(("", path));
    }
    // Split at a slash so the name takes at most 100 bytes and the prefix
    // at most 155.
    let at = path
        .match_indices('/')
        .map(|(i, _)| i)
        .find(|&i| i <= 155 && path.len() - i - 1 <= 100 && i + 1 < path.len())?;
    Some((&path[..at], &path[at + 1..]))
}

/// One pax record, `"<length> <key>=<value>\n"`, its length counting its
/// own digits.
fn pax_record(key: &str, value: &str) -> String {
    let body = key.len() + value.len() + 3; // space, '=', newline
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    format!("{len} {key}={value}\n")
}

fn push_entry(out: &mut Vec<u8>, prefix: &str, name: &str, kind: u8, data: &[u8], mtime: u64) {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], data.len() as u64);
    octal(&mut h[136..148], mtime);
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    // The checksum is taken with its own field as spaces.
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    octal(&mut h[148..155], sum);
    h[155] = b' ';
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out.resize(out.len() + padded(data.len()) - data.len(), 0);
}

/// `n` in octal, zero-padded to fill `field` but its last byte, a NUL.
fn octal(field: &mut [u8], n: u64) {
    let digits = format!("{n:0width$o}", width = field.len() - 1);
    let digits = &digits.as_bytes()[digits.len() - (field.len() - 1)..];
    field[..digits.len()].copy_from_slice(digits);
    field[field.len() - 1] = 0;
}

fn padded(len: usize) -> usize {
    len.div_ceil(BLOCK) * BLOCK
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, content: &str) -> File {
        File { path: path.into(), content: content.into() }
    }

    fn field(h: &[u8], range: std::ops::Range<usize>) -> &str {
        let f = &h[range];
        std::str::from_utf8(&f[..f.iter().position(|&b| b == 0).unwrap_or(f.len())]).unwrap()
    }

    /// Reads back what `tar` wrote, checking each header's checksum: the
    /// files by path, pax paths applied.
    fn read(archive: &[u8]) -> Vec<(String, String)> {
        assert_eq!(archive.len() % BLOCK, 0);
        let mut out = Vec::new();
        let mut at = 0;
        let mut long_path = None;
        while archive[at..at + BLOCK].iter().any(|&b| b != 0) {
            let h = &archive[at..at + BLOCK];
            let stored = u64::from_str_radix(field(h, 148..155).trim(), 8).unwrap();
            let sum: u64 = h
                .iter()
                .enumerate()
                .map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u64::from(b) })
                .sum();
            assert_eq!(stored, sum, "checksum of header at {at}");
            assert_eq!(&h[257..265], b"ustar\x0000");
            let size = usize::from_str_radix(field(h, 124..135), 8).unwrap();
            let data = std::str::from_utf8(&archive[at + BLOCK..at + BLOCK + size]).unwrap();
            match h[156] {
                b'x' => {
                    let (len, rest) = data.split_once(' ').unwrap();
                    assert_eq!(len.parse::<usize>().unwrap(), data.len());
                    long_path = Some(rest.strip_prefix("path=").unwrap().trim_end().to_string());
                }
                b'0' => {
                    let (prefix, name) = (field(h, 345..500), field(h, 0..100));
                    let path = match (long_path.take(), prefix) {
                        (Some(p), _) => p,
                        (None, "") => name.to_string(),
                        (None, prefix) => format!("{prefix}/{name}"),
                    };
                    out.push((path, data.to_string()));
                }
                other => panic!("entry type {other}"),
            }
            at += BLOCK + padded(size);
        }
        assert!(archive[at..].iter().all(|&b| b == 0));
        assert_eq!(archive.len() - at, 2 * BLOCK);
        out
    }

    #[test]
    fn files_read_back_with_their_paths_and_bytes() {
        let long_dir = "d".repeat(120);
        let files = vec![
            file("memory/MEMORY.md", "- [Editor](editor.md) — tabs\n"),
            file("memory/empty.md", ""),
            file("memory/exact.md", &"x".repeat(BLOCK)),
            file(&format!("{long_dir}/notes.md"), "split at the slash\n"),
            file(&"n".repeat(130), "no slash to split at\n"),
            file("mémoire/café.md", "- Café au lait\n"),
        ];
        let archive = tar(&files, 1_767_225_600);
        let back = read(&archive);
        let want: Vec<(String, String)> =
            files.iter().map(|f| (f.path.clone(), f.content.clone())).collect();
        assert_eq!(back, want);
        // The time is each header's.
        assert_eq!(field(&archive[..BLOCK], 136..147), format!("{:011o}", 1_767_225_600));
        assert_eq!(tar(&[], 0), vec![0; 2 * BLOCK]);
    }

    #[test]
    fn a_pax_record_counts_its_own_length() {
        for n in [1, 5, 88, 89, 90, 95, 990, 995, 1000] {
            let r = pax_record("path", &"p".repeat(n));
            let (len, _) = r.split_once(' ').unwrap();
            assert_eq!(len.parse::<usize>().unwrap(), r.len(), "{r}");
        }
    }
}
