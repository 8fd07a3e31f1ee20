//! Brings the loopback interface up in a fresh network namespace (it starts down, and
//! binding 127.0.0.1 fails until it is up). The usual way is an ioctl (SIOCSIFFLAGS),
//! which needs unsafe code; one rtnetlink RTM_NEWLINK message does the same over a
//! socket with safe calls only.

use nix::sys::socket::{
    recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
};

const RTM_NEWLINK: u16 = 16;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLMSG_ERROR: u16 = 2;
const IFF_UP: u32 = 0x1;
const NLMSG_HDR_LEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;

/// The request: `struct nlmsghdr` followed by `struct ifinfomsg`, native endian.
fn newlink_up_message(if_index: u32, seq: u32) -> [u8; NLMSG_HDR_LEN + IFINFOMSG_LEN] {
    let mut msg = [0u8; NLMSG_HDR_LEN + IFINFOMSG_LEN];
    let len = (NLMSG_HDR_LEN + IFINFOMSG_LEN) as u32;
    msg[0..4].copy_from_slice(&len.to_ne_bytes());
    msg[4..6].copy_from_slice(&RTM_NEWLINK.to_ne_bytes());
    msg[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    msg[8..12].copy_from_slice(&seq.to_ne_bytes());
    // nlmsg_pid 0 (kernel fills in), ifi_family AF_UNSPEC, ifi_type 0.
    msg[20..24].copy_from_slice(&if_index.to_ne_bytes());
    msg[24..28].copy_from_slice(&IFF_UP.to_ne_bytes()); // ifi_flags
    msg[28..32].copy_from_slice(&IFF_UP.to_ne_bytes()); // ifi_change
    msg
}

/// Parses the kernel's ACK (an NLMSG_ERROR message whose error is 0 on success).
fn parse_ack(reply: &[u8]) -> Result<(), String> {
    let ty = reply
        .get(4..6)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map(u16::from_ne_bytes)
        .ok_or("short netlink reply")?;
    if ty != NLMSG_ERROR {
        return Err(format!("unexpected netlink reply type {ty}"));
    }
    let err = reply
        .get(NLMSG_HDR_LEN..NLMSG_HDR_LEN + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(i32::from_ne_bytes)
        .ok_or("short netlink error message")?;
    if err == 0 {
        Ok(())
    } else {
        Err(format!(
            "RTM_NEWLINK: {}",
            nix::errno::Errno::from_raw(err.saturating_neg())
        ))
    }
}

pub(crate) fn loopback_up() -> Result<(), String> {
    let index = nix::net::if_::if_nametoindex("lo").map_err(|e| format!("no lo: {e}"))?;
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .map_err(|e| format!("netlink socket: {e}"))?;
    let msg = newlink_up_message(index, 1);
    sendto(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &msg,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )
    .map_err(|e| format!("netlink send: {e}"))?;
    let mut reply = [0u8; 1024];
    let n = recv(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &mut reply,
        MsgFlags::empty(),
    )
    .map_err(|e| format!("netlink recv: {e}"))?;
    parse_ack(reply.get(..n).unwrap_or(&[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout() {
        let m = newlink_up_message(1, 7);
        assert_eq!(u32::from_ne_bytes([m[0], m[1], m[2], m[3]]), 32);
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_NEWLINK);
        assert_eq!(i32::from_ne_bytes([m[20], m[21], m[22], m[23]]), 1);
    }

    #[test]
    fn ack_parsing() {
        let mut ok = [0u8; 36];
        ok[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        assert!(parse_ack(&ok).is_ok());
        let mut bad = ok;
        bad[16..20].copy_from_slice(&(-1i32).to_ne_bytes());
        assert!(parse_ack(&bad).is_err());
        assert!(parse_ack(&[0u8; 3]).is_err());
    }
}
