//! The forward-security check (RFC 9594 section 6: after a member leaves,
//! the group is rekeyed so that it cannot read what follows): a real group
//! request under the new keys, sent to the current members and to an
//! eavesdropping socket standing for the former member on the network, is
//! taken off the wire there and given to
//!
//! 1. the departed member's Group OSCORE state as it was when it left:
//!    it must not read it;
//! 2. the same old keys relabelled with the new Gid (what a former member
//!    who learned the new Gid and the sender's public credential would
//!    try): decryption must still fail;
//! 3. a current member's state rebuilt the same way: it must read it, which
//!    shows that 1 and 2 fail for the keys, not for the method.

use super::StepError;
use super::world::World;
use crate::model::Step;
use ace_client::Identity;
use ace_client::membership::{Membership, MembershipRecord, PeerRecord};
use ace_coap::option::number;
use ace_proto::cbor::Codec;
use ace_proto::groupcomm::GroupOscoreInputMaterial;
use ace_proto::roles::group_oscore::{MONITOR, RESPONDER};
use group_oscore::group::GroupSecurity;
use std::time::Duration;

fn security(
    record: &MembershipRecord,
    world: &World,
    who: &str,
) -> Result<GroupSecurity, StepError> {
    let id = world
        .deployment
        .client(who)
        .ok_or_else(|| StepError::Check(format!("no identity for {who}")))?;
    let identity = Identity::from_key(id.signing.clone(), who);
    Membership::from_record(record)
        .and_then(|m| m.security(&identity, world.scenario.countersignature))
        .map_err(|e| StepError::Check(format!("rebuilding {who}'s Group OSCORE state: {e}")))
}

/// The old record with the Gid of `current`, and the sender's credential
/// if the old record lacks it.
fn relabel(
    old: &MembershipRecord,
    current: &MembershipRecord,
    sender: &[u8],
) -> Result<MembershipRecord, StepError> {
    let mut key = GroupOscoreInputMaterial::decode(&old.key)
        .map_err(|e| StepError::Check(format!("old key: {e}")))?;
    let new = GroupOscoreInputMaterial::decode(&current.key)
        .map_err(|e| StepError::Check(format!("current key: {e}")))?;
    key.oscore.context_id = new.oscore.context_id.clone();
    let mut out = old.clone();
    out.key = key.encode();
    if !out.peers.iter().any(|p| p.sender_id == sender)
        && let Some(p) = current.peers.iter().find(|p| p.sender_id == sender)
    {
        out.peers.push(PeerRecord { ..p.clone() });
    }
    Ok(out)
}

pub(super) async fn check(
    world: &mut World,
    step: &Step,
    sender: &str,
    group: &str,
    former: &str,
) -> Result<String, StepError> {
    let old = world
        .departed
        .get(&(former.to_string(), group.to_string()))
        .cloned()
        .ok_or_else(|| StepError::Check(format!("{former} has not left {group} in this run")))?;
    // A current member that receives requests reads the probe (control).
    let reader = world
        .memberships
        .iter()
        .find(|((c, g), m)| g == group && c != sender && m.roles & (RESPONDER | MONITOR) != 0)
        .map(|((c, _), _)| c.clone())
        .ok_or_else(|| {
            StepError::Check(format!(
                "no current responder or monitor in {group} to compare with"
            ))
        })?;
    let sender_addr = world
        .members
        .get(sender)
        .and_then(|m| m.local_addr())
        .ok_or_else(|| StepError::Check(format!("no address for {sender}")))?;
    // The former member listens on the network: the probe goes to it too.
    let eavesdropper =
        super::sniffer::Sniffer::start(&world.capture, &format!("{former} (eavesdropping)"))
            .await
            .map_err(|e| StepError::Check(format!("eavesdropper socket: {e}")))?;
    let (_, body) = world
        .send(
            step,
            sender,
            group,
            "/forward-secrecy",
            "probe",
            Duration::from_millis(300),
            None,
            std::slice::from_ref(&reader),
            &[],
            &[eavesdropper.addr()],
        )
        .await?;
    let bytes = eavesdropper
        .datagrams()
        .into_iter()
        .find_map(|(from, bytes)| {
            (from == sender_addr
                && ace_coap::wire::decode(&bytes)
                    .is_ok_and(|m| m.is_request() && m.options.contains(number::OSCORE)))
            .then_some(bytes)
        })
        .ok_or_else(|| {
            StepError::Check("the probe request did not reach the eavesdropper".into())
        })?;
    let packet = coap_lite::Packet::from_bytes(&bytes)
        .map_err(|e| StepError::Check(format!("captured probe: {e:?}")))?;

    let sender_sid = world
        .members
        .get(sender)
        .and_then(|m| m.sender_id(group))
        .ok_or_else(|| StepError::Check(format!("{sender} has no Sender ID in {group}")))?;
    let reader_member = world
        .members
        .get(&reader)
        .cloned()
        .ok_or_else(|| StepError::Check(format!("no client {reader}")))?;
    let current = reader_member
        .export(group)
        .await?
        .ok_or_else(|| StepError::Check(format!("{reader} holds no membership of {group}")))?;
    if current.num <= old.num {
        return Err(StepError::Check(format!(
            "the group was not rekeyed since {former} left (num {} then, {} now)",
            old.num, current.num
        )));
    }

    let mut leaver = security(&old, world, former)?;
    let as_left = match leaver.unprotect_request(&packet) {
        Ok((inner, _)) => {
            return Err(StepError::Check(format!(
                "{former}'s old keys (num {}) read the new message: {:?}",
                old.num,
                String::from_utf8_lossy(&inner.payload)
            )));
        }
        Err(e) => format!("{e:?}"),
    };
    let relabelled = relabel(&old, &current, &sender_sid)?;
    let mut forged = security(&relabelled, world, former)?;
    let forged_result = forged.unprotect_request(&packet);
    if let Ok((inner, _)) = &forged_result {
        return Err(StepError::Check(format!(
            "{former}'s old master secret relabelled with the new Gid read the message: {:?}",
            String::from_utf8_lossy(&inner.payload)
        )));
    }
    let mut control = security(&current, world, &reader)?;
    let (inner, _) = control.unprotect_request(&packet).map_err(|e| {
        StepError::Check(format!(
            "control: {reader}'s current keys cannot read the probe either ({e:?})"
        ))
    })?;
    if inner.payload != body {
        return Err(StepError::Check(
            "control: the probe decrypted to something else".into(),
        ));
    }
    Ok(format!(
        "probe under num {} taken off the wire: unreadable with {former}'s num {} keys (as left: {as_left}; relabelled with the new Gid: {}); read by {reader}'s current keys",
        current.num,
        old.num,
        forged_result
            .err()
            .map(|e| format!("{e:?}"))
            .unwrap_or_default()
    ))
}
