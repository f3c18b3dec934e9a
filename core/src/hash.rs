//! The one string hash of the engine, shared with the build script that
//! keys the lexicon by it.

/// A fast 64-bit hash of a byte string (FNV-1a with a final avalanche), the
/// same on every platform, so signatures agree natively and in WASM.
pub fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in s.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

/// The 32-bit key the lexicon table files a word under: the high half of
/// its `hash_str` (the build script writes the table with it, the engine
/// reads it).
pub fn key32(word: &str) -> u32 {
    (hash_str(word) >> 32) as u32
}

/// SplitMix64's finalizer: a bijective avalanche of 64 bits.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
