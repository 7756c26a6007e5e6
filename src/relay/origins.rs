//! An edge's origins (`-origin=A,B`) for one channel, and which to try after a failure: the next
//! one at once, and a pause (the backoff) only once every origin has failed in a row; a channel
//! every origin refuses is given up.

use crate::rtmp::client::RtmpUrl;

/// The channel's URL on each origin, in the order given, and where the pull is.
#[derive(Debug, Clone)]
pub(super) struct Origins {
    urls: Vec<RtmpUrl>,
    current: usize,
    /// Failures in a row since media last flowed, and how many of them were refusals.
    failures: usize,
    refusals: usize,
}

/// What a pull does after its origin failed.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Failover {
    /// Connect to this origin now.
    Next(RtmpUrl),
    /// Every origin failed in a row: wait the backoff, then connect to this one.
    Wait(RtmpUrl),
    /// Every origin said the channel is not there.
    GiveUp,
}

impl Origins {
    /// `urls` is not empty.
    pub(super) fn new(urls: Vec<RtmpUrl>) -> Origins {
        assert!(!urls.is_empty(), "an edge pull needs an origin");
        Origins {
            urls,
            current: 0,
            failures: 0,
            refusals: 0,
        }
    }

    pub(super) fn current(&self) -> &RtmpUrl {
        &self.urls[self.current]
    }

    /// More than one origin to fail over to.
    pub(super) fn several(&self) -> bool {
        self.urls.len() > 1
    }

    /// Whether `url` is one of this channel's origins (a redirect elsewhere is refused).
    pub(super) fn contains(&self, url: &RtmpUrl) -> bool {
        self.urls
            .iter()
            .any(|u| u.tc_url == url.tc_url && u.stream_name() == url.stream_name())
    }

    /// Make `url` (one of the origins) the current one: a ReconnectRequest moved the pull there.
    pub(super) fn select(&mut self, url: &RtmpUrl) {
        if let Some(i) = self
            .urls
            .iter()
            .position(|u| u.tc_url == url.tc_url && u.stream_name() == url.stream_name())
        {
            self.current = i;
        }
    }

    /// The current origin failed (`refused`: it said the channel is not there; `carried_media`:
    /// media had flowed from it).
    pub(super) fn failed(&mut self, refused: bool, carried_media: bool) -> Failover {
        if carried_media {
            self.failures = 0;
            self.refusals = 0;
        }
        self.failures += 1;
        self.refusals += usize::from(refused);
        self.current = (self.current + 1) % self.urls.len();
        if self.failures < self.urls.len() {
            return Failover::Next(self.current().clone());
        }
        let all_refused = self.refusals == self.failures;
        self.failures = 0;
        self.refusals = 0;
        if all_refused {
            Failover::GiveUp
        } else {
            Failover::Wait(self.current().clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(n: usize) -> Origins {
        Origins::new(
            (1..=n)
                .map(|i| RtmpUrl::parse(&format!("rtmp://o{i}:1935/live/a")).unwrap())
                .collect(),
        )
    }

    fn host(f: &Failover) -> String {
        match f {
            Failover::Next(u) | Failover::Wait(u) => u.tc_url.clone(),
            Failover::GiveUp => "give up".into(),
        }
    }

    #[test]
    fn a_failed_origin_hands_over_to_the_next_at_once_and_waits_only_after_a_full_round() {
        let mut o = origins(2);
        assert_eq!(o.current().tc_url, "rtmp://o1/live");
        let f = o.failed(false, true);
        assert!(matches!(f, Failover::Next(_)));
        assert_eq!(host(&f), "rtmp://o2/live");
        let f = o.failed(false, false);
        assert!(matches!(f, Failover::Wait(_)), "{f:?}");
        assert_eq!(host(&f), "rtmp://o1/live");
        // Media from o1 again: a failure starts a new round.
        assert!(matches!(o.failed(false, true), Failover::Next(_)));
    }

    #[test]
    fn a_channel_every_origin_refuses_is_given_up_but_one_dead_origin_is_not_a_refusal() {
        let mut o = origins(3);
        assert!(matches!(o.failed(true, false), Failover::Next(_)));
        assert!(matches!(o.failed(true, false), Failover::Next(_)));
        assert_eq!(o.failed(true, false), Failover::GiveUp);
        let mut o = origins(2);
        assert!(matches!(o.failed(false, false), Failover::Next(_)));
        assert!(matches!(o.failed(true, false), Failover::Wait(_)));
    }

    #[test]
    fn a_single_origin_behaves_as_before_lists_existed() {
        let mut o = origins(1);
        assert!(!o.several());
        assert!(matches!(o.failed(false, true), Failover::Wait(_)));
        assert_eq!(o.failed(true, false), Failover::GiveUp);
    }

    #[test]
    fn only_the_listed_origins_are_contained() {
        let o = origins(2);
        assert!(o.contains(&RtmpUrl::parse("rtmp://o2:1935/live/a").unwrap()));
        assert!(!o.contains(&RtmpUrl::parse("rtmp://o3:1935/live/a").unwrap()));
        assert!(!o.contains(&RtmpUrl::parse("rtmp://o1:1935/live/b").unwrap()));
    }
}
