pub mod handshake; pub mod chunk; pub mod message;
