//! Protocol configuration: transmission parameters (RFC 7252 section 4.8),
//! limits, Observe and block-wise settings.

use std::time::Duration;

/// The transmission parameters of RFC 7252 section 4.8, and the derived
/// times of section 4.8.2.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TransmissionParameters {
    /// ACK_TIMEOUT: the initial retransmission timeout (2 s).
    pub ack_timeout: Duration,
    /// ACK_RANDOM_FACTOR: the initial timeout is drawn from
    /// `[ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR]` (1.5).
    pub ack_random_factor: f64,
    /// MAX_RETRANSMIT: retransmissions of a CON before giving up (4).
    pub max_retransmit: u32,
    /// NSTART: outstanding interactions per peer (1, section 4.7).
    pub nstart: usize,
    /// DEFAULT_LEISURE: the window for a randomly delayed response to a
    /// multicast request (5 s, section 8.2).
    pub default_leisure: Duration,
    /// MAX_LATENCY: the longest time a datagram is in flight (100 s).
    pub max_latency: Duration,
    /// PROCESSING_DELAY: the time a node takes to turn a CON into an ACK
    /// (ACK_TIMEOUT by default).
    pub processing_delay: Duration,
}

impl Default for TransmissionParameters {
    fn default() -> Self {
        Self {
            ack_timeout: Duration::from_secs(2),
            ack_random_factor: 1.5,
            max_retransmit: 4,
            nstart: 1,
            default_leisure: Duration::from_secs(5),
            max_latency: Duration::from_secs(100),
            processing_delay: Duration::from_secs(2),
        }
    }
}

impl TransmissionParameters {
    /// Short timers for tests on loopback: ACK_TIMEOUT 50 ms, leisure 20 ms,
    /// MAX_LATENCY 1 s.
    pub fn fast_for_tests() -> Self {
        Self {
            ack_timeout: Duration::from_millis(50),
            ack_random_factor: 1.5,
            max_retransmit: 4,
            nstart: 1,
            default_leisure: Duration::from_millis(20),
            max_latency: Duration::from_secs(1),
            processing_delay: Duration::from_millis(50),
        }
    }

    /// MAX_TRANSMIT_SPAN = ACK_TIMEOUT * (2^MAX_RETRANSMIT - 1) *
    /// ACK_RANDOM_FACTOR (45 s by default).
    pub fn max_transmit_span(&self) -> Duration {
        let factor = (2f64.powi(self.max_retransmit as i32) - 1.0) * self.ack_random_factor;
        self.ack_timeout.mul_f64(factor)
    }

    /// MAX_TRANSMIT_WAIT = ACK_TIMEOUT * (2^(MAX_RETRANSMIT + 1) - 1) *
    /// ACK_RANDOM_FACTOR (93 s by default).
    pub fn max_transmit_wait(&self) -> Duration {
        let factor = (2f64.powi(self.max_retransmit as i32 + 1) - 1.0) * self.ack_random_factor;
        self.ack_timeout.mul_f64(factor)
    }

    /// EXCHANGE_LIFETIME = MAX_TRANSMIT_SPAN + 2 * MAX_LATENCY +
    /// PROCESSING_DELAY (247 s by default): how long a CON's Message ID is
    /// remembered.
    pub fn exchange_lifetime(&self) -> Duration {
        self.max_transmit_span() + self.max_latency * 2 + self.processing_delay
    }

    /// NON_LIFETIME = MAX_TRANSMIT_SPAN + MAX_LATENCY (145 s by default):
    /// how long a NON's Message ID is remembered.
    pub fn non_lifetime(&self) -> Duration {
        self.max_transmit_span() + self.max_latency
    }
}

/// Resource limits of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest datagram sent or accepted: 1152 bytes, the size RFC 7252
    /// section 4.6 recommends when the path MTU is unknown.
    pub max_datagram_size: usize,
    /// The block size for Block1 and Block2 (RFC 7959): 1024 bytes. Rounded
    /// down to a power of two between 16 and 1024.
    pub block_size: usize,
    /// The largest request or response body reassembled from blocks;
    /// requests beyond it get 4.13 with Size1 (RFC 7959 section 2.9.3).
    pub max_body_size: usize,
    /// Most Message IDs remembered per peer for duplicate detection (the
    /// most recent ones; a client retransmits only its NSTART outstanding
    /// requests, RFC 7252 section 4.7).
    pub dedup_per_peer: usize,
    /// Most peers with duplicate-detection state; beyond, the state created
    /// first is dropped.
    pub max_dedup_peers: usize,
    /// Most bytes of cached replies kept for duplicates.
    pub max_dedup_bytes: usize,
    /// Most bytes of response bodies kept to serve later Block2 requests.
    pub max_block_cache_bytes: usize,
    /// Most concurrent Block1 reassemblies.
    pub max_block1_transfers: usize,
    /// Most registered observers; further registrations are answered
    /// without Observe (RFC 7641 section 4.1).
    pub max_observers: usize,
    /// Most requests running in handlers at once; beyond, 5.03 with
    /// Max-Age 1 (RFC 7252 section 5.9.3.4).
    pub max_concurrent_requests: usize,
    /// Most client exchanges (including queued ones) at once.
    pub max_client_exchanges: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_datagram_size: 1152,
            block_size: 1024,
            max_body_size: 1 << 20,
            dedup_per_peer: 32,
            max_dedup_peers: 16_384,
            max_dedup_bytes: 32 << 20,
            max_block_cache_bytes: 16 << 20,
            max_block1_transfers: 1024,
            max_observers: 10_000,
            max_concurrent_requests: 65_536,
            max_client_exchanges: 65_536,
        }
    }
}

/// How notifications are sent (RFC 7641 section 4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObserveConfig {
    /// Send every N-th notification as CON (1 makes every notification CON).
    /// Non-2.xx notifications, which end an observation, are always CON.
    pub con_every: u32,
    /// Send a CON notification at least this often: 24 h, the RFC 7641
    /// section 4.5 upper bound.
    pub con_interval: Duration,
}

impl Default for ObserveConfig {
    fn default() -> Self {
        Self {
            con_every: 20,
            con_interval: Duration::from_secs(24 * 3600),
        }
    }
}

/// The sans-I/O protocol configuration of an [`crate::endpoint::Endpoint`].
#[derive(Clone, Debug, PartialEq)]
pub struct ProtocolConfig {
    /// Transmission parameters.
    pub transmission: TransmissionParameters,
    /// Limits.
    pub limits: Limits,
    /// Observe notification policy.
    pub observe: ObserveConfig,
    /// How long a handler may take before the endpoint sends an empty ACK
    /// and later a separate response (RFC 7252 section 5.2.2). A duplicate
    /// of the request also triggers the empty ACK at once.
    pub separate_response_after: Duration,
    /// How long a client waits for a response after its request was
    /// acknowledged (or, for NON, sent). Default: MAX_TRANSMIT_WAIT.
    pub response_timeout: Duration,
    /// Length of the tokens this endpoint generates (1 to 8; RFC 7252
    /// section 5.3.1 asks for enough randomness when not secured).
    pub token_length: usize,
    /// Whether to answer multicast requests with 4.xx and 5.xx codes. The
    /// default suppresses them: RFC 7252 section 8.2 lets a server ignore a
    /// multicast request when all it has is an error response.
    pub respond_to_multicast_errors: bool,
    /// Critical options that a layer above the endpoint processes (e.g.
    /// OSCORE, 9), so that the endpoint does not answer 4.02 Bad Option for
    /// them (RFC 7252 section 5.4.1).
    pub extra_critical_options: Vec<u16>,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        let transmission = TransmissionParameters::default();
        Self {
            transmission,
            limits: Limits::default(),
            observe: ObserveConfig::default(),
            separate_response_after: transmission.ack_timeout / 4,
            response_timeout: transmission.max_transmit_wait(),
            token_length: 8,
            respond_to_multicast_errors: false,
            extra_critical_options: Vec::new(),
        }
    }
}

impl ProtocolConfig {
    /// A configuration with short timers for tests (see
    /// [`TransmissionParameters::fast_for_tests`]).
    pub fn fast_for_tests() -> Self {
        let transmission = TransmissionParameters::fast_for_tests();
        Self {
            transmission,
            separate_response_after: transmission.ack_timeout / 4,
            response_timeout: Duration::from_secs(5),
            ..Self::default()
        }
    }

    /// The block size exponent of the configured block size.
    pub fn block_szx(&self) -> u8 {
        crate::block::szx_for_size(self.limits.block_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_times_match_rfc7252_section_4_8_2() {
        let p = TransmissionParameters::default();
        assert_eq!(p.max_transmit_span(), Duration::from_secs(45));
        assert_eq!(p.max_transmit_wait(), Duration::from_secs(93));
        assert_eq!(p.exchange_lifetime(), Duration::from_secs(247));
        assert_eq!(p.non_lifetime(), Duration::from_secs(145));
    }

    #[test]
    fn default_limits_follow_the_rfcs() {
        let c = ProtocolConfig::default();
        assert_eq!(c.limits.max_datagram_size, 1152);
        assert_eq!(c.block_szx(), 6);
        assert_eq!(c.response_timeout, Duration::from_secs(93));
    }
}
