// Each kind's fields as schemas/desired-state.schema.json declares them: the reader a value goes
// through, its allowed values, and how a change of it is classed (x-change, x-compared-with,
// x-reason). The schema, compiled in, is the one field table: the parser, the planner's rules
// and the front ends follow it, and nothing in the engine lists a kind's fields again.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/address.h"

namespace vc {

/// How a value is read: a schema type, or a named reader (x-type) for a patterned string.
enum class FieldType {
  kBool,
  kInt,
  kNumber,  // a positive decimal (capacity ratios)
  kSize,
  kEnum,
  kPath,
  kName,
  kVolumeKey,
  kBridge,
  kTarget,
  kMac,
  kDisks,
  kInterfaces,
  kCpu,
  kKsm,
  kCloudInit,  // a cloud-init seed: {pool, user_data, meta_data, network_config?}
  kCpuModel,
  kNameList,
  kEnumList,
  kSnapshotSpec,
  kUri,
};

/// x-change: how a change of the field reaches the host.
enum class ChangeClass {
  kNone,       // no disruption (autostart, new snapshots)
  kLive,       // changed in place
  kRestart,    // a running domain takes it at its next boot, unless a live rule applies
  kReplace,    // the resource is undefined and defined again
  kResize,     // growing is live, shrinking loses data
  kState,      // start, or graceful shutdown
  kPolicy,     // how apply acts; never observed, never compared
  kPlacement,  // which hosts of a fleet it is on: part of the address, never a field difference
};

struct FieldSpec {
  std::string name;
  FieldType type = FieldType::kName;
  std::vector<std::string> values;  // kEnum, kEnumList
  int min = 0;                      // kInt; kNameList and kEnumList: minItems
  int max = 0;
  ChangeClass change = ChangeClass::kNone;
  bool compared_running = false;  // x-compared-with: running (a running domain's live value)
  std::string reason;             // x-reason
};

using FieldTable = std::vector<FieldSpec>;

/// The fields of a kind, in schema order ("ensure" is the document's, not listed). kHost's are
/// those of a `hosts:` entry ($defs/host).
const FieldTable& FieldsOf(Kind kind);

/// The fields of a sub-object the schema defines ("disk", "interface", "cpu", "ceph", "host",
/// "ksm").
const FieldTable& ObjectFields(std::string_view definition);

/// The field `name` of `kind`, or nullptr when the kind has no such field.
const FieldSpec* FindField(Kind kind, std::string_view name);

/// True when `name` is a field of `kind` whose x-change is `change`.
bool HasChangeClass(Kind kind, std::string_view name, ChangeClass change);

}  // namespace vc
