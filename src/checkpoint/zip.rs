//! The entries of a zip archive, read from its central directory (PKWARE APPNOTE 6.3.x,
//! sections 4.3.12-4.3.16 and the Zip64 records of 4.3.14-4.3.15 and 4.5.3).
//!
//! Only what `torch.save` archives need: entry names and where each entry's bytes lie in the
//! file. PyTorch writes its entries stored (method 0), so a tensor's bytes can be used in
//! place from the memory map; compressed entries are listed with their method and refused by
//! the callers with a clear error. Every offset and size is checked against the file.

use std::ops::Range;

/// One archive entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ZipEntry {
    /// Name as stored (`archive/data/0`).
    pub name: String,
    /// Compression method (0 = stored, 8 = deflate).
    pub method: u16,
    /// Where the entry's (possibly compressed) bytes lie in the file.
    pub data: Range<usize>,
    /// Size once uncompressed.
    pub size: u64,
}

const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD64_LOC_SIG: u32 = 0x0706_4b50;
const EOCD64_SIG: u32 = 0x0606_4b50;
const CDH_SIG: u32 = 0x0201_4b50;
const LFH_SIG: u32 = 0x0403_4b50;
/// Most entries htdiag accepts in one archive (a state dict has one per storage).
const MAX_ENTRIES: u64 = 10_000_000;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Whether `bytes` begins like a zip archive (a local file header, or an empty archive).
pub(crate) fn looks_like_zip(bytes: &[u8]) -> bool {
    matches!(u32_at(bytes, 0), Some(LFH_SIG | EOCD_SIG))
}

/// Lists the entries of the archive `bytes`, in central directory order.
pub(crate) fn entries(bytes: &[u8]) -> Result<Vec<ZipEntry>, String> {
    let eocd = find_eocd(bytes)?;
    let mut count = u64::from(u16_at(bytes, eocd + 10).ok_or("truncated end record")?);
    let mut cd_size = u64::from(u32_at(bytes, eocd + 12).ok_or("truncated end record")?);
    let mut cd_off = u64::from(u32_at(bytes, eocd + 16).ok_or("truncated end record")?);
    if eocd >= 20 && u32_at(bytes, eocd - 20) == Some(EOCD64_LOC_SIG) {
        let at = u64_at(bytes, eocd - 12).ok_or("truncated Zip64 locator")?;
        let at = usize::try_from(at).map_err(|_| "Zip64 end record offset overflows")?;
        if u32_at(bytes, at) != Some(EOCD64_SIG) {
            return Err(format!("no Zip64 end record at offset {at}"));
        }
        count = u64_at(bytes, at + 32).ok_or("truncated Zip64 end record")?;
        cd_size = u64_at(bytes, at + 40).ok_or("truncated Zip64 end record")?;
        cd_off = u64_at(bytes, at + 48).ok_or("truncated Zip64 end record")?;
    }
    if count > MAX_ENTRIES {
        return Err(format!("the central directory claims {count} entries"));
    }
    let cd_end = cd_off
        .checked_add(cd_size)
        .filter(|&e| e <= bytes.len() as u64)
        .ok_or_else(|| {
            format!(
                "central directory [{cd_off}, +{cd_size}) lies outside the {}-byte file",
                bytes.len()
            )
        })?;
    let mut out = Vec::with_capacity(count.min(4096) as usize);
    let mut at = cd_off as usize;
    for i in 0..count {
        let e = central_entry(bytes, at, cd_end as usize).map_err(|r| format!("entry {i}: {r}"))?;
        at = e.1;
        out.push(e.0);
    }
    Ok(out)
}

/// The end-of-central-directory record: searched backwards over the comment (at most 64 KiB).
fn find_eocd(bytes: &[u8]) -> Result<usize, String> {
    if bytes.len() < 22 {
        return Err(format!(
            "{} bytes is too short for a zip archive",
            bytes.len()
        ));
    }
    let lowest = bytes.len().saturating_sub(22 + 65535);
    (lowest..=bytes.len() - 22)
        .rev()
        .find(|&i| u32_at(bytes, i) == Some(EOCD_SIG))
        .ok_or_else(|| "no end-of-central-directory record (truncated archive?)".to_string())
}

/// Parses the central directory header at `at`; returns the entry and the next header's offset.
fn central_entry(bytes: &[u8], at: usize, cd_end: usize) -> Result<(ZipEntry, usize), String> {
    let h = bytes.get(at..at + 46).filter(|_| at + 46 <= cd_end);
    let h = h.ok_or("central directory header runs past the directory")?;
    if u32_at(h, 0) != Some(CDH_SIG) {
        return Err(format!("bad central directory signature at offset {at}"));
    }
    let method = u16_at(h, 10).unwrap_or(0);
    let mut csize = u64::from(u32_at(h, 20).unwrap_or(0));
    let mut usize_ = u64::from(u32_at(h, 24).unwrap_or(0));
    let name_len = usize::from(u16_at(h, 28).unwrap_or(0));
    let extra_len = usize::from(u16_at(h, 30).unwrap_or(0));
    let comment_len = usize::from(u16_at(h, 32).unwrap_or(0));
    let mut local = u64::from(u32_at(h, 42).unwrap_or(0));
    let next = at + 46 + name_len + extra_len + comment_len;
    if next > cd_end {
        return Err("central directory header runs past the directory".into());
    }
    let name = String::from_utf8_lossy(&bytes[at + 46..at + 46 + name_len]).into_owned();
    // Zip64 extended information (tag 1): the fields whose 32-bit value is 0xFFFFFFFF, in order.
    let mut extra = &bytes[at + 46 + name_len..at + 46 + name_len + extra_len];
    while extra.len() >= 4 {
        let tag = u16_at(extra, 0).unwrap_or(0);
        let len = usize::from(u16_at(extra, 2).unwrap_or(0));
        let body = extra
            .get(4..4 + len)
            .ok_or("extra field runs past its header")?;
        if tag == 1 {
            let mut k = 0;
            for field in [&mut usize_, &mut csize, &mut local] {
                if *field == 0xFFFF_FFFF {
                    *field = u64_at(body, k).ok_or("short Zip64 extra field")?;
                    k += 8;
                }
            }
        }
        extra = &extra[4 + len..];
    }
    let data = local_data(bytes, local, csize).map_err(|r| format!("'{name}': {r}"))?;
    Ok((
        ZipEntry {
            name,
            method,
            data,
            size: usize_,
        },
        next,
    ))
}

/// The data range of the entry whose local header is at `local`.
fn local_data(bytes: &[u8], local: u64, csize: u64) -> Result<Range<usize>, String> {
    let at = usize::try_from(local).map_err(|_| "local header offset overflows")?;
    if u32_at(bytes, at) != Some(LFH_SIG) {
        return Err(format!("no local file header at offset {at}"));
    }
    let name_len = usize::from(u16_at(bytes, at + 26).ok_or("truncated local header")?);
    let extra_len = usize::from(u16_at(bytes, at + 28).ok_or("truncated local header")?);
    let start = at + 30 + name_len + extra_len;
    let end = (start as u64)
        .checked_add(csize)
        .filter(|&e| e <= bytes.len() as u64)
        .ok_or_else(|| {
            format!(
                "data [{start}, +{csize}) runs past the end of the {}-byte file (truncated?)",
                bytes.len()
            )
        })?;
    Ok(start..end as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored archive written by hand: local headers, central directory, end record.
    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in files {
            let off = out.len() as u32;
            out.extend(LFH_SIG.to_le_bytes());
            out.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((name.len() as u16).to_le_bytes());
            out.extend(0u16.to_le_bytes());
            out.extend(name.as_bytes());
            out.extend(*data);
            central.extend(CDH_SIG.to_le_bytes());
            central.extend([20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend((data.len() as u32).to_le_bytes());
            central.extend((data.len() as u32).to_le_bytes());
            central.extend((name.len() as u16).to_le_bytes());
            central.extend([0u8; 12]);
            central.extend(off.to_le_bytes());
            central.extend(name.as_bytes());
        }
        let cd_off = out.len() as u32;
        out.extend(&central);
        out.extend(EOCD_SIG.to_le_bytes());
        out.extend([0u8; 4]);
        out.extend((files.len() as u16).to_le_bytes());
        out.extend((files.len() as u16).to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend(cd_off.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out
    }

    #[test]
    fn lists_entries_and_their_bytes() {
        let a = archive(&[("m/data.pkl", b"hello"), ("m/data/0", b"0123456789")]);
        assert!(looks_like_zip(&a));
        let e = entries(&a).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].name, "m/data/0");
        assert_eq!(&a[e[1].data.clone()], b"0123456789");
        assert_eq!((e[0].method, e[0].size), (0, 5));
    }

    #[test]
    fn truncation_and_lies_are_errors() {
        let a = archive(&[("x", b"abc")]);
        assert!(entries(&a[..a.len() - 3]).is_err());
        assert!(entries(&a[10..]).is_err());
        let mut lie = a.clone();
        // Compressed size of the central entry: 3 -> 0x7fffffff.
        let cd = lie.len() - 22 - 47;
        lie[cd + 20..cd + 24].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        assert!(entries(&lie).unwrap_err().contains("runs past the end"));
    }
}
