//! Random identifiers, 64 lowercase hex characters like docker's container ids.

/// Returns 32 random bytes as 64 hex characters.
pub fn random_id() -> String {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).expect("the kernel's random source is unavailable");
    hex::encode(buf)
}

/// Returns `n` random bytes as hex (for temp names and upload ids).
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the kernel's random source is unavailable");
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_64_hex_and_distinct() {
        let a = super::random_id();
        let b = super::random_id();
        assert_eq!(a.len(), 64);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
