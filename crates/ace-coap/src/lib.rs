//! A CoAP endpoint (RFC 7252) on tokio and the coap-lite message codec.
