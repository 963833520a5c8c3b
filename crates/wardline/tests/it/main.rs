//! Integration tests: each starts the real `wardline` binary on a random port with its own
//! temporary data directory, and talks to it over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

mod accounts;
mod admin;
mod alarm_log;
mod alarms;
mod alarms_hl7;
mod alarms_pcd05;
mod audit;
mod backup;
mod bench;
mod bodies;
mod broadcast;
mod crash;
mod deployment;
mod device_lists;
mod dnd;
mod edge;
mod escalation;
mod filing;
mod first_day;
mod first_sign_in;
mod health;
mod integrations;
mod media;
mod messaging;
mod metrics;
mod mfa;
mod mllp_tls;
mod patients;
mod presence;
mod priority;
mod push;
mod push_rules;
mod relations;
mod roles;
mod rooms;
mod rota;
mod search;
mod session;
mod status;
mod sync;
mod topics;
mod wctp;
mod web;
mod webhooks;
