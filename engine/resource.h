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
  bool absent = false;  // ensure: absent
  Json spec;            // declared fields only, canonical; never contains "ensure"
  std::string source;   // the file it came from, for messages
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

struct Document {
  std::string connection;  // "" when no document names one
  Json ceph;               // the `ceph:` section ({"conf": path, "user": name}), or null
  std::map<Address, DesiredResource> resources;
};

struct ObservedState {
  std::string connection;
  std::map<Address, ObservedResource> resources;
};

}  // namespace vc
