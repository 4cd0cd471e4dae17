//! UDP socket setup with socket2: the endpoint's unicast socket, and one
//! socket per joined multicast group (RFC 7252 section 8).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV6};

use socket2::{Domain, Protocol, Socket, Type};

/// The All CoAP Nodes IPv4 address (RFC 7252 section 12.8).
pub const ALL_COAP_NODES_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 1, 187);
/// The link-local All CoAP Nodes IPv6 address (RFC 7252 section 12.8).
pub const ALL_COAP_NODES_V6_LINK: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfd);
/// The site-local All CoAP Nodes IPv6 address (RFC 7252 section 12.8).
pub const ALL_COAP_NODES_V6_SITE: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0xff05, 0, 0, 0, 0, 0, 0, 0xfd);

/// A multicast group to join, on one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MulticastGroup {
    /// The group address and the port to listen on.
    pub group: SocketAddr,
    /// The interface: an IPv4 address of it for an IPv4 group, its index for
    /// an IPv6 group.
    pub interface: MulticastInterface,
}

/// The interface a multicast group is joined on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MulticastInterface {
    /// An IPv4 interface, named by one of its addresses (`0.0.0.0`: any).
    V4(Ipv4Addr),
    /// An IPv6 interface index (0: the system's choice).
    V6(u32),
}

impl MulticastGroup {
    /// All CoAP Nodes (224.0.1.187) on `port`, on the interface that owns
    /// `interface` (e.g. 127.0.0.1 for loopback).
    pub fn all_coap_nodes_v4(port: u16, interface: Ipv4Addr) -> Self {
        Self {
            group: SocketAddr::from((ALL_COAP_NODES_V4, port)),
            interface: MulticastInterface::V4(interface),
        }
    }

    /// An IPv6 group on `port` and interface index `interface`.
    pub fn v6(group: std::net::Ipv6Addr, port: u16, interface: u32) -> Self {
        Self {
            group: SocketAddr::V6(SocketAddrV6::new(group, port, 0, interface)),
            interface: MulticastInterface::V6(interface),
        }
    }
}

/// The index of a network interface, read from `/sys/class/net/NAME/ifindex`
/// (Linux).
pub fn interface_index(name: &str) -> io::Result<u32> {
    if name.contains('/') || name.contains("..") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad interface name",
        ));
    }
    let text = std::fs::read_to_string(format!("/sys/class/net/{name}/ifindex"))?;
    text.trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad ifindex"))
}

/// Options for the unicast socket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocketOptions {
    /// SO_RCVBUF and SO_SNDBUF, if set.
    pub buffer_size: Option<usize>,
    /// The interface for outgoing IPv4 multicast (IP_MULTICAST_IF).
    pub multicast_interface_v4: Option<Ipv4Addr>,
    /// The interface index for outgoing IPv6 multicast (IPV6_MULTICAST_IF).
    pub multicast_interface_v6: Option<u32>,
}

impl SocketOptions {
    /// A buffer size for a server that many clients reach at once (the
    /// KDC, the AS): 4 MiB holds the requests of a few thousand clients
    /// that send at the same moment. The system default (about 208 KiB on
    /// Linux) overflows with a few hundred, and the kernel drops the rest;
    /// a dropped CON request is retransmitted only after ACK_TIMEOUT, 2 s
    /// or more (RFC 7252 section 4.8).
    pub const SERVER_BUFFER_SIZE: usize = 4 << 20;
    /// The largest buffer size: `SO_RCVBUF` and `SO_SNDBUF` take a C `int`,
    /// and a larger value would wrap around to a tiny buffer.
    pub const MAX_BUFFER_SIZE: usize = i32::MAX as usize;

    /// The buffer size a configuration file's `socket_buffer = bytes`
    /// asks for: `None` for 0 (the system default), an error text for a
    /// size beyond [`SocketOptions::MAX_BUFFER_SIZE`] or below 0.
    pub fn configured_buffer_size(bytes: i64) -> Result<Option<usize>, String> {
        usize::try_from(bytes)
            .ok()
            .filter(|&n| n <= Self::MAX_BUFFER_SIZE)
            .map(|n| Some(n).filter(|&n| n > 0))
            .ok_or_else(|| {
                format!(
                    "must be 0 (the system default) to {} bytes",
                    Self::MAX_BUFFER_SIZE
                )
            })
    }
}

/// Logs a warning when the kernel granted a smaller receive buffer than
/// asked for (Linux caps it at `net.core.rmem_max` and reports twice the
/// size it grants, its bookkeeping included): a burst of datagrams beyond
/// it is dropped before the endpoint sees it.
fn warn_if_capped(socket: &Socket, asked: usize) {
    let Ok(reported) = socket.recv_buffer_size() else {
        return;
    };
    let granted = if cfg!(target_os = "linux") {
        reported / 2
    } else {
        reported
    };
    if granted < asked {
        tracing::warn!(
            asked,
            granted,
            "the kernel granted a smaller UDP receive buffer than configured \
             (on Linux, raise net.core.rmem_max)"
        );
    }
}

/// Binds the unicast socket (any port, 0 for an ephemeral one).
pub(crate) fn bind_unicast(
    addr: SocketAddr,
    options: &SocketOptions,
) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Some(size) = options.buffer_size {
        if size > SocketOptions::MAX_BUFFER_SIZE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "socket buffer size beyond a C int",
            ));
        }
        socket.set_recv_buffer_size(size)?;
        socket.set_send_buffer_size(size)?;
        warn_if_capped(&socket, size);
    }
    match addr.ip() {
        IpAddr::V4(_) => {
            if let Some(interface) = options.multicast_interface_v4 {
                socket.set_multicast_if_v4(&interface)?;
            }
            socket.set_multicast_loop_v4(true)?;
        }
        IpAddr::V6(_) => {
            if let Some(index) = options.multicast_interface_v6 {
                socket.set_multicast_if_v6(index)?;
            }
            socket.set_multicast_loop_v6(true)?;
        }
    }
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Binds a socket that receives a multicast group's datagrams. Several
/// endpoints on one host can join the same group and port (SO_REUSEADDR);
/// each receives a copy.
pub(crate) fn bind_multicast(group: &MulticastGroup) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(group.group),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    socket.set_reuse_address(true)?;
    match (group.group, group.interface) {
        (SocketAddr::V4(g), MulticastInterface::V4(interface)) => {
            if !g.ip().is_multicast() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a multicast address",
                ));
            }
            // Binding the group address (not the wildcard) keeps unicast
            // datagrams to the same port out of this socket.
            socket.bind(&SocketAddr::V4(g).into())?;
            socket.join_multicast_v4(g.ip(), &interface)?;
        }
        (SocketAddr::V6(g), MulticastInterface::V6(index)) => {
            if !g.ip().is_multicast() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a multicast address",
                ));
            }
            socket.set_only_v6(true)?;
            let bind = SocketAddrV6::new(*g.ip(), g.port(), 0, index);
            socket.bind(&SocketAddr::V6(bind).into())?;
            socket.join_multicast_v6(g.ip(), index)?;
        }
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "group and interface families differ",
            ));
        }
    }
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_beyond_a_c_int_is_refused() {
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let options = |size| SocketOptions {
            buffer_size: Some(size),
            ..SocketOptions::default()
        };
        let err = bind_unicast(addr, &options(SocketOptions::MAX_BUFFER_SIZE + 1)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(bind_unicast(addr, &options(SocketOptions::SERVER_BUFFER_SIZE)).is_ok());
    }

    #[test]
    fn configured_buffer_sizes() {
        let max = SocketOptions::MAX_BUFFER_SIZE;
        assert_eq!(SocketOptions::configured_buffer_size(0), Ok(None));
        assert_eq!(
            SocketOptions::configured_buffer_size(65536),
            Ok(Some(65536))
        );
        assert_eq!(
            SocketOptions::configured_buffer_size(max as i64),
            Ok(Some(max))
        );
        assert!(SocketOptions::configured_buffer_size(max as i64 + 1).is_err());
        assert!(SocketOptions::configured_buffer_size(-1).is_err());
    }
}
