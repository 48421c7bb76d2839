#include "engine/export.h"

#include <gtest/gtest.h>

namespace vc {
namespace {

ObservedResource Resource(Kind kind, const std::string& name, Json spec) {
  return ObservedResource{{kind, name}, std::move(spec), nullptr, false, {}};
}

// libvirt holds names a document cannot (a file with a space in a dir pool, a snapshot overlay):
// observe leaves them out, with a note, so its output stays a valid document that plans clean.
TEST(ExportTest, NamesADocumentCannotHoldAreLeftOutWithANote) {
  ObservedState state;
  state.connection = "qemu:///system";
  for (const char* name : {"p/root", "p/root@s1", "p/my disk"}) {
    state.resources[Address{Kind::kVolume, name}] =
        Resource(Kind::kVolume, name, {{"capacity", "1MiB"}});
  }
  state.resources[Address{Kind::kDomain, "web1"}] = Resource(Kind::kDomain, "web1", {});
  const Json doc = ExportDocument(state);
  EXPECT_EQ(doc["volumes"].size(), 1u) << doc.dump();
  EXPECT_TRUE(doc["volumes"].contains("p/root"));
  EXPECT_TRUE(doc["domains"].contains("web1"));
  const std::vector<std::string> notes = UndeclarableNotes(state);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[0].find("volume 'p/my disk' left out: a document cannot name it"),
            std::string::npos)
      << notes[0];
  EXPECT_NE(notes[1].find("snapshot overlays"), std::string::npos) << notes[1];

  std::vector<std::string> fleet_notes;
  const Json fleet = ExportFleetDocument(state, {{"a", "qemu:///system"}}, nullptr, &fleet_notes);
  EXPECT_EQ(fleet["volumes"].size(), 1u) << fleet.dump();
}

}  // namespace
}  // namespace vc
