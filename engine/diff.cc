#include "engine/diff.h"

#include <algorithm>

#include "engine/cloud_init.h"
#include "engine/domain_snapshots.h"
#include "engine/field_table.h"

namespace vc {

Json Project(const Json& observed, const Json& desired) {
  if (desired.is_object() && observed.is_object()) {
    Json out = Json::object();
    for (const auto& [key, value] : desired.items()) {
      auto it = observed.find(key);
      out[key] = it == observed.end() ? Json(nullptr) : Project(*it, value);
    }
    return out;
  }
  if (desired.is_array() && observed.is_array()) {
    // Elements beyond the declared ones are cut to the union of the declared sub-fields, so an
    // extra disk shows up in the diff with the same fields as the declared ones.
    Json shape = Json::object();
    for (const Json& element : desired) {
      if (element.is_object()) shape.update(element);
    }
    Json out = Json::array();
    for (std::size_t i = 0; i < observed.size(); ++i) {
      const Json& element_shape = i < desired.size() ? desired[i] : shape;
      out.push_back(element_shape.empty() ? observed[i] : Project(observed[i], element_shape));
    }
    return out;
  }
  return observed;
}

std::vector<AttributeChange> DiffAttributes(const Json& desired, const Json& observed) {
  std::vector<AttributeChange> out;
  for (const auto& [key, value] : desired.items()) {
    auto it = observed.find(key);
    Json before = it == observed.end() ? Json(nullptr) : Project(*it, value);
    if (before != value) out.push_back({key, before, value, Disruption::kNone, ""});
  }
  return out;
}

Json Minus(const Json& a, const Json& b) {
  Json out = Json::array();
  if (!a.is_array()) return out;
  for (const Json& x : a) {
    if (!b.is_array() || std::find(b.begin(), b.end(), x) == b.end()) out.push_back(x);
  }
  return out;
}

namespace {

// What the host's image is compared as: the snapshots declared (others are left alone) and
// whether it is still a clone; a flattened clone's source is history.
void RbdImageView(Json* want, Json* have, const Json& observed) {
  (*have)["flatten"] = !observed.contains("clone_from");
  if (want->value("flatten", false)) want->erase("clone_from");
  if (want->contains("snapshots")) {
    Json present = Json::array();
    for (const Json& name : observed.value("snapshots", Json::array())) {
      bool declared = false;
      for (const Json& w : (*want)["snapshots"]) declared = declared || w == name;
      if (declared) present.push_back(name);
    }
    (*have)["snapshots"] = present;
  }
}

}  // namespace

std::vector<AttributeChange> DiffResource(Kind kind, const Json& desired, const Json& observed) {
  // Only an RBD image, and a domain declaring snapshots (a set) or a seed (its on_change), are
  // compared through a view of their own; the others as they are, uncopied.
  const bool domain_snapshots =
      kind == Kind::kDomain && desired.is_object() && desired.contains("snapshots");
  const bool seed_policy = kind == Kind::kDomain && desired.is_object() &&
                           desired.contains("cloud_init") && observed.is_object() &&
                           observed.contains("cloud_init");
  const bool view =
      (kind == Kind::kRbdImage || domain_snapshots || seed_policy) && observed.is_object();
  Json want = view ? desired : Json();
  Json have = view ? observed : Json();
  if (view && kind == Kind::kRbdImage) RbdImageView(&want, &have, observed);
  if (view && domain_snapshots)
    have["snapshots"] = SnapshotsAsCompared(want["snapshots"], observed);
  if (seed_policy) have["cloud_init"] = SeedAsCompared(want["cloud_init"], have["cloud_init"]);
  std::vector<AttributeChange> out;
  for (AttributeChange& a : DiffAttributes(view ? want : desired, view ? have : observed)) {
    // Policy fields say how to act, not what the host holds; placement is in the address: never
    // compared.
    if (!HasChangeClass(kind, a.path, ChangeClass::kPolicy) &&
        !HasChangeClass(kind, a.path, ChangeClass::kPlacement)) {
      out.push_back(std::move(a));
    }
  }
  return out;
}

}  // namespace vc
