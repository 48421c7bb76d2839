#include "engine/applier.h"

#include <gtest/gtest.h>

#include <mutex>
#include <stdexcept>

#include "engine/document_parser.h"
#include "engine/planner.h"
#include "engine/size.h"

namespace vc {
namespace {

// An in-memory host: enough to exercise the applier's ordering, re-read and verification logic,
// which do not depend on libvirt. The libvirt provider itself is tested against real daemons.
class MemoryProvider : public Provider {
 public:
  explicit MemoryProvider(ObservedState state) : state_(std::move(state)) {}
  const std::string& uri() const override { return state_.connection; }
  StatusOr<ObservedState> ObserveAll() override {
    std::lock_guard<std::mutex> lock(mu_);
    return state_;
  }
  StatusOr<std::optional<ObservedResource>> ObserveOne(const Address& address) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (before_observe_one) before_observe_one(address, &state_);
    auto it = state_.resources.find(address);
    if (it == state_.resources.end()) return std::optional<ObservedResource>();
    return std::optional<ObservedResource>(it->second);
  }
  Status Execute(const Step& step) override {
    std::lock_guard<std::mutex> lock(mu_);
    executed.push_back(step.Describe());
    if (fail_on == step.address.ToString()) return Status::Internal("injected failure");
    if (throw_on == step.address.ToString()) throw std::runtime_error("injected exception");
    ObservedResource& r = state_.resources[step.address];
    r.address = step.address;
    switch (step.op) {
      case Step::Op::kCreate:
        r.spec = step.args;
        if (step.address.kind == Kind::kDomain) r.spec["state"] = "stopped";
        break;
      case Step::Op::kWriteConfig:
        r.spec.update(step.args);
        break;
      case Step::Op::kDelete:
        state_.resources.erase(step.address);
        break;
      case Step::Op::kMigrate: {
        Address to = step.address;
        to.host = step.args["to"];
        ObservedResource moved = r;
        moved.address = to;
        moved.spec["autostart"] = false;  // autostart is the host's: it does not come along
        state_.resources.erase(step.address);
        state_.resources[to] = moved;
        break;
      }
      case Step::Op::kStart:
        r.spec["state"] = "running";
        break;
      case Step::Op::kShutdown:
        r.spec["state"] = "stopped";
        break;
      case Step::Op::kSetAutostart:
        r.spec["autostart"] = step.args["autostart"];
        break;
      case Step::Op::kResize:
        r.spec["capacity"] = FormatSize(step.args["bytes"].get<std::uint64_t>());
        break;
      case Step::Op::kSetKsm:
        r.spec["ksm"].update(step.args["settings"]);
        break;
      case Step::Op::kWriteSeed:  // the seed is in the spec create and write_config set
      case Step::Op::kBlockResize:
      case Step::Op::kUpdateFeatures:
      case Step::Op::kCreateSnapshots:
      case Step::Op::kProtectSnapshot:
      case Step::Op::kFlatten:
      case Step::Op::kSetVcpusLive:
      case Step::Op::kSetMemoryLive:
      case Step::Op::kAttachMemoryLive:
      case Step::Op::kAttachDiskLive:
      case Step::Op::kDetachDiskLive:
      case Step::Op::kAttachInterfaceLive:
      case Step::Op::kDetachInterfaceLive:
      case Step::Op::kDefineCephSecret:
      case Step::Op::kFreezeDomain:
      case Step::Op::kThawDomain:
      case Step::Op::kRemoveSnapshot:
      case Step::Op::kRollbackSnapshot:
      case Step::Op::kRevertDomainSnapshot:
        break;  // the running guest and libvirt secrets are not modelled here
      case Step::Op::kSnapshotDomain:
        r.spec["snapshots"].push_back(step.args["snapshot"]);
        break;
      case Step::Op::kDeleteDomainSnapshot: {
        Json kept = Json::array();
        for (const Json& n : r.spec.value("snapshots", Json::array()))
          if (n != step.args["snapshot"]) kept.push_back(n);
        r.spec["snapshots"] = kept;
        break;
      }
    }
    return Status::Ok();
  }

  std::vector<std::string> executed;
  std::string fail_on;
  std::string throw_on;
  std::function<void(const Address&, ObservedState*)> before_observe_one;

 private:
  std::mutex mu_;
  ObservedState state_;
};

Document Parse(const std::string& yaml) {
  Document doc;
  EXPECT_FALSE(HasErrors(ParseDocument(yaml, "t.yaml", &doc)));
  return doc;
}

const char* kDoc = R"(version: 1
pools: {p: {type: dir, path: /srv/p}}
volumes: {p/root: {capacity: 1GiB}}
networks: {n: {mode: isolated}}
domains:
  d1: {vcpus: 1, memory: 64MiB, disks: [{volume: p/root, target: vda}], interfaces: [{network: n}]}
  d2: {vcpus: 1, memory: 64MiB, state: stopped}
)";

TEST(ApplierTest, AppliesInDependencyOrderAndVerifies) {
  MemoryProvider provider(ObservedState{"mem://", {}});
  Plan plan = ComputePlan(Parse(kDoc), ObservedState{"mem://", {}}, {});
  ApplyReport report = ApplyPlan(plan, provider, {}, nullptr);
  EXPECT_TRUE(report.ok());
  ASSERT_GE(provider.executed.size(), 5u);
  EXPECT_EQ(provider.executed[0], "create pool.p");
  EXPECT_EQ(provider.executed[1], "create volume.p/root");
  EXPECT_EQ(provider.executed[2], "create network.n");
  for (const ResourceOutcome& o : report.outcomes) EXPECT_TRUE(o.converged) << o.address.ToString();
  // A second plan against the result is empty.
  EXPECT_TRUE(ComputePlan(Parse(kDoc), *provider.ObserveAll(), {}).changes.empty());
}

TEST(ApplierTest, FailureSkipsDependentsButNotOthers) {
  MemoryProvider provider(ObservedState{"mem://", {}});
  provider.fail_on = "volume.p/root";
  Plan plan = ComputePlan(Parse(kDoc), ObservedState{"mem://", {}}, {});
  ApplyReport report = ApplyPlan(plan, provider, {}, nullptr);
  EXPECT_FALSE(report.ok());
  for (const ResourceOutcome& o : report.outcomes) {
    std::string a = o.address.ToString();
    if (a == "volume.p/root") {
      EXPECT_NE(o.status.message().find("injected"), std::string::npos);
    } else if (a == "domain.d1") {
      EXPECT_NE(o.status.message().find("skipped because volume.p/root failed"), std::string::npos);
    } else {
      EXPECT_TRUE(o.status.ok()) << a;
    }
  }
}

TEST(ApplierTest, ResourceChangedSincePlanIsStoppedWithAClearError) {
  ObservedState state{"mem://", {}};
  state.resources[Address{Kind::kDomain, "d2"}] =
      ObservedResource{{Kind::kDomain, "d2"},
                       {{"vcpus", 2}, {"memory", "64MiB"}, {"state", "stopped"}},
                       nullptr,
                       false,
                       {}};
  MemoryProvider provider(state);
  Document doc = Parse("version: 1\ndomains:\n  d2: {vcpus: 1, memory: 64MiB, state: stopped}\n");
  Plan plan = ComputePlan(doc, state, {});
  ASSERT_EQ(plan.changes.size(), 1u);
  provider.before_observe_one = [](const Address& a, ObservedState* s) {
    s->resources[a].spec["memory"] = "128MiB";  // someone else changed it meanwhile
  };
  ApplyReport report = ApplyPlan(plan, provider, {}, nullptr);
  ASSERT_EQ(report.outcomes.size(), 1u);
  const Status& status = report.outcomes[0].status;
  EXPECT_EQ(status.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(status.message().find("domain.d2: changed since plan: memory was 64MiB, is now 128MiB"),
            std::string::npos)
      << status.message();
  EXPECT_TRUE(provider.executed.empty()) << "nothing may be executed on a changed resource";
}

TEST(ApplierTest, AnExceptionInAWorkerBecomesThatResourcesFailure) {
  MemoryProvider provider(ObservedState{"mem://", {}});
  provider.throw_on = "network.n";
  Plan plan = ComputePlan(Parse(kDoc), ObservedState{"mem://", {}}, {});
  ApplyReport report = ApplyPlan(plan, provider, {}, nullptr);
  EXPECT_FALSE(report.ok());
  for (const ResourceOutcome& o : report.outcomes) {
    std::string a = o.address.ToString();
    if (a == "network.n") {
      EXPECT_NE(o.status.message().find("injected exception"), std::string::npos);
    } else if (a == "domain.d1") {
      EXPECT_EQ(o.status.error_code(), ErrorCode::kSkipped) << o.status.message();
    }
  }
}

TEST(ApplierTest, RunsExactlyThePlannedSteps) {
  MemoryProvider provider(ObservedState{"mem://", {}});
  Plan plan = ComputePlan(Parse(kDoc), ObservedState{"mem://", {}}, {});
  std::vector<std::string> planned;
  for (const Change& c : plan.changes) {
    for (const Step& s : c.steps) planned.push_back(s.Describe());
  }
  ApplyReport report = ApplyPlan(plan, provider, {1}, nullptr);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(provider.executed, planned);
}

}  // namespace
}  // namespace vc
