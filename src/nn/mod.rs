//! The tutorial's math: activations and losses (f next to f'), dense layers, the network
//! with its step API and its passes, initialisation and the optimizers' update rules.

pub mod activation;
mod any;
pub mod dropout;
pub mod init;
pub mod layer;
pub mod loss;
pub mod network;
pub mod optim;

pub use any::{AnyNetwork, NetworkFloat};
