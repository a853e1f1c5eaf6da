//! `docker save` / `docker load` archives.

use crate::reference::Reference;
use berth_stdx::Digest;

/// One argument of `save`, resolved by the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum SaveItem {
    /// A tag: the image it points to, saved under this name only.
    Tag(Reference),
    /// A bare image id: saved without names.
    Id(Digest),
}
