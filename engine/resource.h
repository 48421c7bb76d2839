// The data the engine plans over. A resource's attributes are kept as a JSON object in the
// document's canonical form (sizes as "2GiB", enums as strings), so desired and observed state
// compare field by field and print the same way in plans, `observe` and Puppet/Salt output.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/address.h"

namespace vc {

using Json = nlohmann::json;

/// One resource as the documents declare it.
struct DesiredResource {
  Address address;
  bool absent = false;          // ensure: absent
  Json spec;                    // declared fields only, canonical; never contains "ensure"
  std::string source;           // the file it came from, for messages
  std::string placed_why = "";  // in a fleet, when placement chose its host: why that host
  std::string cpu_note = "";    // in a fleet, when its cpu is the fleet's baseline: which one
};

/// One resource as the host holds it.
struct ObservedResource {
  Address address;
  Json spec;             // every field the provider can read, canonical. For a domain: its
                         // persistent config (what the next boot gets).
  Json live;             // domains only, when running: the same fields as the running guest has
                         // them; null otherwise.
  bool managed = false;  // carries virtconverge's ownership mark
  Json facts;            // domains only, when running: what live changes need to know, in
                         // canonical form: memory_total (boot memory plus DIMMs),
                         // memory_slots, memory_slots_used, hotplug_max_memory
};

/// One hypervisor of a fleet, as the `hosts:` section declares it.
struct HostEntry {
  std::string connection;    // its libvirt URI
  bool maintenance = false;  // drain it: its running domains move to the other hosts
  Json spec;                 // the entry as declared, canonical (for plans and saved plans)
};

struct Document {
  std::string connection;  // "" when no document names one
  Json ceph;               // the `ceph:` section ({"conf": path, "user": name}), or null
  // The `hosts:` section. Empty: one host, today's meaning. Otherwise a fleet: resources are
  // declared once with their placement fields (host, hosts) and planned on each host they are
  // placed on (engine/placement.h).
  std::map<std::string, HostEntry> hosts;
  std::map<Address, DesiredResource> resources;

  bool fleet() const { return !hosts.empty(); }
};

struct ObservedState {
  std::string connection;  // one host; "" for a fleet
  std::map<Address, ObservedResource> resources;
  // A fleet's hosts that could not be reached and were skipped (--skip-unreachable), with why.
  std::map<std::string, std::string> skipped_hosts = {};
  // For a fleet: per move the planner may make, "<domain>@<from>><to>" → the CPU features the
  // destination lacks for the domain's CPU ([] when it can run it), or {"error": why}.
  std::map<std::string, Json> cpu_checks = {};
  // For a fleet whose documents ask for it: the CPU every host that answered can run, in the
  // document's form ({"mode": "custom", "model", ...}), or {"error": why}; null otherwise.
  Json cpu_baseline = nullptr;
};

}  // namespace vc
