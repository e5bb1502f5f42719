//! Who is asking: the client's address for per-client rate limits, trusting `X-Forwarded-For`
//! only from the proxies the operator names (`TRUSTED_PROXIES`).

use axum::http::HeaderMap;
use ipnetwork::IpNetwork;
use std::net::IpAddr;

/// The client's address. The socket's peer, unless that peer is a trusted proxy: then the
/// right-most address in `X-Forwarded-For` that is not itself a trusted proxy. Entries left of it
/// are the client's own claims and are never believed; with no trusted proxies configured the
/// header is ignored altogether.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNetwork]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(*ip));
    let mut client = peer.to_canonical();
    if !is_trusted(&client) {
        return client;
    }
    // Each proxy appends to the last header line, so read lines and entries right to left.
    for line in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(line) = line.to_str() else {
            return client;
        };
        for entry in line.rsplit(',') {
            let Ok(ip) = entry.trim().parse::<IpAddr>() else {
                return client;
            };
            client = ip.to_canonical();
            if !is_trusted(&client) {
                return client;
            }
        }
    }
    client
}

/// The address of the client of the request being handled (server functions), through
/// [`client_ip`].
pub async fn current_client_ip(trusted: &[IpNetwork]) -> IpAddr {
    use axum::extract::ConnectInfo;
    let peer = leptos_axum::extract::<ConnectInfo<std::net::SocketAddr>>()
        .await
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    match leptos::prelude::use_context::<axum::http::request::Parts>() {
        Some(parts) => client_ip(peer, &parts.headers, trusted),
        None => peer,
    }
}

/// The client address of the request being handled, when there is one, without waiting:
/// for the audit log's "from where".
pub fn request_client_ip() -> Option<IpAddr> {
    use axum::extract::ConnectInfo;
    let parts = leptos::prelude::use_context::<axum::http::request::Parts>()?;
    let peer = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()?
        .0
        .ip();
    let trusted = crate::state::state()
        .map(|s| s.settings.trusted_proxies.clone())
        .unwrap_or_default();
    Some(client_ip(peer, &parts.headers, &trusted))
}

/// What a per-client limit counts against: the address for IPv4, and the /64 network for IPv6,
/// since one household or phone is given a whole /64.
pub fn rate_limit_subject(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// Parses `TRUSTED_PROXIES`: comma-separated addresses or CIDR networks.
pub fn parse_trusted_proxies(raw: &str) -> Result<Vec<IpNetwork>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNetwork>()
                .map_err(|_| format!("{s:?} is not an IP address or CIDR network"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append("x-forwarded-for", HeaderValue::from_str(l).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let h = headers(&["203.0.113.9"]);
        assert_eq!(client_ip(ip("198.51.100.1"), &h, &[]), ip("198.51.100.1"));
    }

    #[test]
    fn a_trusted_proxy_is_believed_and_spoofed_entries_are_not() {
        let trusted = parse_trusted_proxies("10.0.0.0/8, 192.0.2.7").unwrap();
        // The client claimed 1.1.1.1; the load balancer appended the real peer 203.0.113.9.
        let h = headers(&["1.1.1.1, 203.0.113.9"]);
        assert_eq!(client_ip(ip("10.1.2.3"), &h, &trusted), ip("203.0.113.9"));
        // Two trusted hops, across two header lines.
        let h = headers(&["1.1.1.1, 203.0.113.9", "192.0.2.7"]);
        assert_eq!(client_ip(ip("10.1.2.3"), &h, &trusted), ip("203.0.113.9"));
        // An untrusted peer's header counts for nothing.
        assert_eq!(
            client_ip(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_good_hop() {
        let trusted = parse_trusted_proxies("10.0.0.0/8").unwrap();
        let h = headers(&["not-an-ip, 10.9.9.9"]);
        assert_eq!(client_ip(ip("10.1.2.3"), &h, &trusted), ip("10.9.9.9"));
        assert_eq!(
            client_ip(ip("10.1.2.3"), &HeaderMap::new(), &trusted),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn mapped_ipv4_and_ipv6_networks_count_as_one_client() {
        assert_eq!(
            rate_limit_subject(client_ip(ip("::ffff:203.0.113.9"), &HeaderMap::new(), &[])),
            "203.0.113.9"
        );
        assert_eq!(
            rate_limit_subject(ip("2001:db8:1:2:aaaa::1")),
            rate_limit_subject(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            rate_limit_subject(ip("2001:db8:1:2::1")),
            rate_limit_subject(ip("2001:db8:1:3::1"))
        );
    }

    #[test]
    fn bad_proxy_lists_are_refused() {
        assert!(parse_trusted_proxies("10.0.0.0/33").is_err());
        assert!(parse_trusted_proxies("proxy.internal").is_err());
        assert_eq!(parse_trusted_proxies(" ").unwrap(), vec![]);
    }
}
