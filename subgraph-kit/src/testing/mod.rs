//! Test support for adapter authors: an in-memory adapter, a fault injector
//! that wraps any adapter, and the adapter contract suite (the seed's Layer 7)
//! that every adapter runs with one call.

mod contract;
mod faults;
mod memory;

pub use contract::{CheckOutcome, ContractReport, ContractSuite};
pub use faults::{FaultControl, FaultInjector};
pub use memory::MemoryAdapter;
