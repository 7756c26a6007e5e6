//! Connection limits of the media listeners: a total and, optionally, a number per client
//! address. A connection over a limit is closed at accept, before any thread is started for it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// Open connections, counted across every listener that shares it.
#[derive(Debug)]
pub struct ConnectionLimits {
    max_total: usize,
    /// 0 = no per-address limit.
    max_per_ip: usize,
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct ConnectionSlot {
    limits: Arc<ConnectionLimits>,
    /// The address counted per address, once claimed.
    ip: Option<IpAddr>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Total(usize),
    PerAddress(usize),
}

impl ConnectionLimits {
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<ConnectionLimits> {
        Arc::new(ConnectionLimits {
            max_total: max_total.max(1),
            max_per_ip,
            total: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
        })
    }

    /// No limit at all (tests and tools).
    pub fn unlimited() -> Arc<ConnectionLimits> {
        ConnectionLimits::new(usize::MAX, 0)
    }

    /// Admit a connection from `ip`, or say which limit it is over.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, Refusal> {
        let mut slot = self.admit_unnamed()?;
        slot.claim_address(ip)?;
        Ok(slot)
    }

    /// Admit a connection whose client is not known yet (a PROXY protocol header will name
    /// it): counted in the total only, until [`ConnectionSlot::claim_address`].
    pub fn admit_unnamed(self: &Arc<Self>) -> Result<ConnectionSlot, Refusal> {
        let admitted = self
            .total
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_total).then_some(n + 1)
            });
        if admitted.is_err() {
            return Err(Refusal::Total(self.max_total));
        }
        Ok(ConnectionSlot {
            limits: self.clone(),
            ip: None,
        })
    }

    pub fn open(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }
}

impl ConnectionSlot {
    /// Count this connection as one of `ip`'s, or say it is over the per-address limit (the
    /// slot is then dropped, freeing its place in the total).
    pub fn claim_address(&mut self, ip: IpAddr) -> Result<(), Refusal> {
        let limits = &self.limits;
        if limits.max_per_ip == 0 || self.ip.is_some() {
            return Ok(());
        }
        let mut per_ip = limits.per_ip.lock();
        let n = per_ip.entry(ip).or_insert(0);
        if *n >= limits.max_per_ip {
            return Err(Refusal::PerAddress(limits.max_per_ip));
        }
        *n += 1;
        self.ip = Some(ip);
        Ok(())
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let limits = &self.limits;
        if let Some(ip) = self.ip {
            let mut per_ip = limits.per_ip.lock();
            if let Some(n) = per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
        limits.total.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_and_per_address_limits_refuse_the_excess_and_free_places_on_drop() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let a1 = limits.admit(a).unwrap();
        let _a2 = limits.admit(a).unwrap();
        assert_eq!(limits.admit(a).unwrap_err(), Refusal::PerAddress(2));
        let _b1 = limits.admit(b).unwrap();
        assert_eq!(limits.admit(b).unwrap_err(), Refusal::Total(3));
        assert_eq!(limits.open(), 3);
        drop(a1);
        assert_eq!(limits.open(), 2);
        let _b2 = limits.admit(b).unwrap();
        assert_eq!(limits.admit(a).unwrap_err(), Refusal::Total(3));
    }

    #[test]
    fn an_unnamed_slot_counts_per_address_once_its_client_is_known() {
        let limits = ConnectionLimits::new(10, 1);
        let client: IpAddr = [203, 0, 113, 7].into();
        let mut first = limits.admit_unnamed().unwrap();
        let mut second = limits.admit_unnamed().unwrap();
        assert_eq!(limits.open(), 2);
        first.claim_address(client).unwrap();
        assert_eq!(second.claim_address(client), Err(Refusal::PerAddress(1)));
        drop(second);
        drop(first);
        assert_eq!(limits.open(), 0);
        let _again = limits.admit(client).unwrap();
    }

    #[test]
    fn a_per_address_limit_of_zero_is_off() {
        let limits = ConnectionLimits::new(1000, 0);
        let ip: IpAddr = [127, 0, 0, 1].into();
        let slots: Vec<_> = (0..1000).map(|_| limits.admit(ip).unwrap()).collect();
        assert_eq!(slots.len(), 1000);
        assert_eq!(limits.admit(ip).unwrap_err(), Refusal::Total(1000));
    }
}
