#include "engine/composite_provider.h"

#include <set>
#include <vector>

namespace vc {

Provider* CompositeProvider::For(Kind kind) const {
  auto it = routes_.find(kind);
  return it == routes_.end() ? primary_ : it->second;
}

StatusOr<ObservedState> CompositeProvider::ObserveAll() {
  StatusOr<ObservedState> merged = primary_->ObserveAll();
  if (!merged.ok()) return merged;
  // The primary may list things another backend owns (an rbd pool's volumes); the owner's view
  // wins.
  std::set<Provider*> others;
  for (const auto& [kind, provider] : routes_) {
    if (provider != primary_) others.insert(provider);
  }
  for (Provider* provider : others) {
    StatusOr<ObservedState> part = provider->ObserveAll();
    if (!part.ok()) return part.status();
    for (auto& [address, resource] : part->resources) {
      if (For(address.kind) == provider) merged->resources[address] = std::move(resource);
    }
  }
  return merged;
}

StatusOr<std::optional<ObservedResource>> CompositeProvider::ObserveOne(const Address& address) {
  return For(address.kind)->ObserveOne(address);
}

Status CompositeProvider::Execute(const Step& step) {
  if (step.address.kind == Kind::kDomain &&
      (step.op == Step::Op::kSnapshotDomain || step.op == Step::Op::kDeleteDomainSnapshot ||
       step.op == Step::Op::kRevertDomainSnapshot)) {
    return ExecuteDomainSnapshot(step);
  }
  return For(step.address.kind)->Execute(step);
}

Status CompositeProvider::ExecuteDomainSnapshot(const Step& step) {
  const std::string name = step.args.value("snapshot", "");
  const std::string rbd_snapshot = "vcsnap-" + name;
  std::vector<Address> images;
  std::string image_names;
  for (const Json& disk : step.args.value("disks", Json::array())) {
    if (!disk.is_object() || !disk.contains("rbd") || !disk["rbd"].is_string()) continue;
    images.push_back(RefOn(Kind::kRbdImage, disk["rbd"].get<std::string>(), ""));
    image_names += (image_names.empty() ? "" : ", ") + disk["rbd"].get<std::string>();
  }
  Provider* ceph = routes_.count(Kind::kRbdImage) ? routes_.at(Kind::kRbdImage) : nullptr;
  if (!images.empty() && ceph == nullptr) {
    return Status::FailedPrecondition(step.Describe() + ": the domain has RBD disks (" +
                                      image_names +
                                      "): their snapshots need the document's ceph: section");
  }
  switch (step.op) {
    case Step::Op::kSnapshotDomain: {
      const std::string consistency = step.args.value("consistency", "stopped");
      const bool hold = consistency == "quiesce" || consistency == "pause";
      const Json how = {{"consistency", consistency}};
      if (hold) {
        if (Status s = primary_->Execute({Step::Op::kFreezeDomain, step.address, how}); !s.ok())
          return s;
      }
      Status taken = Status::Ok();
      for (const Address& image : images) {
        taken = ceph->Execute(
            {Step::Op::kCreateSnapshots, image, {{"snapshots", Json::array({rbd_snapshot})}}});
        if (!taken.ok()) break;
      }
      // The record is written last: a snapshot the domain lists has every one of its disks.
      if (taken.ok()) taken = primary_->Execute(step);
      if (hold) {
        Status thawed = primary_->Execute({Step::Op::kThawDomain, step.address, how});
        if (taken.ok()) return thawed;
        // Both failed: the snapshot's error first, and that the guest may still be held.
        if (!thawed.ok()) return taken.WithNote("then " + thawed.message());
      }
      return taken;
    }
    case Step::Op::kDeleteDomainSnapshot:
      for (const Address& image : images) {
        if (Status s =
                ceph->Execute({Step::Op::kRemoveSnapshot, image, {{"snapshot", rbd_snapshot}}});
            !s.ok()) {
          return s;
        }
      }
      return primary_->Execute(step);
    default: {  // kRevertDomainSnapshot: the domain is stopped
      Json later = Json::array();
      for (const Json& t : step.args.value("later", Json::array())) {
        if (t.is_string()) later.push_back("vcsnap-" + t.get<std::string>());
      }
      for (const Address& image : images) {
        if (Status s = ceph->Execute({Step::Op::kRollbackSnapshot,
                                      image,
                                      {{"snapshot", rbd_snapshot}, {"remove", later}}});
            !s.ok()) {
          return s;
        }
      }
      return primary_->Execute(step);
    }
  }
}

}  // namespace vc
