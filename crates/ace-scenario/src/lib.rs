//! Scenario runner: scripted ACE group key provisioning flows over loopback,
//! with step logs, traces, pcap files and sequence diagrams.
