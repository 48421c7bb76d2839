// libFuzzer target: a saved plan (`plan --out`, untrusted) as `apply --plan` reads it:
// DecodeSavedPlan, then, when it decodes, planning its document again against an empty host
// (ComputePlan, PlanToJson, the text rendering) and CompareWithSaved, also as if the host's
// fingerprint were unchanged, so the field-by-field comparison runs. A mutated plan almost never
// keeps a matching digest, so each input is also decoded with its digest made right, which lets
// the fuzzer reach every check after the digest's. No libvirt connection is opened.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/json_reader.h"
#include "engine/plan.h"
#include "engine/plan_text.h"
#include "engine/planner.h"
#include "engine/saved_plan.h"

namespace {

void ApplySaved(std::string_view text) {
  vc::StatusOr<vc::SavedPlan> saved = vc::DecodeSavedPlan(text);
  if (!saved.ok()) return;
  const vc::PlanOptions options = vc::ReplanOptions(*saved, saved->options);
  vc::ObservedState empty_host;
  empty_host.connection = saved->connection;
  vc::Plan plan = vc::ComputePlan(saved->document, empty_host, options);
  vc::Json again = vc::PlanToJson(plan);
  (void)vc::RenderPlanText(again, vc::TextStyle{false, true});
  (void)vc::CompareWithSaved(*saved, again);
  // As if the host had not changed since the plan: the comparison goes on past the fingerprint
  // and names the first field that differs.
  again["fingerprint"] = saved->fingerprint;
  (void)vc::CompareWithSaved(*saved, again);
  (void)vc::CompareWithSaved(*saved, saved->json);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ApplySaved(text);
  vc::StatusOr<vc::Json> json = vc::ReadStrictJson(text);
  if (json.ok() && json->is_object()) {
    (*json)["digest"] = vc::PlanDigest(*json);
    ApplySaved(json->dump(-1, ' ', false, vc::Json::error_handler_t::replace));
  }
  return 0;
}
