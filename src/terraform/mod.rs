//! The Terraform side of the engine: load a tree without losing a byte ([`workspace`]), index its
//! resources by address across local modules ([`index`]), read state ([`state`]), map a finding to a
//! block ([`locate`]), read literals safely ([`literal`]) and splice minimal edits ([`edit`]).

pub mod edit;
pub mod identity;
pub mod index;
pub mod literal;
pub mod locate;
pub mod provider;
pub mod state;
pub mod suppress;
pub mod workspace;
