//! `joy4-bench`: a load generator and meter for live-streaming servers (joy4, nginx-rtmp, SRS).
//!
//! One publisher sends a real-time stream over RTMP; N subscribers play it over RTMP or HTTP-FLV;
//! the bench reports what each subscriber got, the latency the server added, and — given the
//! server's PID — its CPU and memory per subscriber. See `run` for the threads and the measurement
//! window, `report` for the arithmetic, `skim` for the lean stream readers.
pub mod report;
pub mod run;
pub mod sendlog;
pub mod skim;
pub mod stream;
pub mod sys;
pub mod target;
