#include "providers/libvirt/node.h"

#include <gtest/gtest.h>

namespace vc::libvirt {
namespace {

TEST(NodeTest, OnlyALocalTransportToNoHostOrALoopbackAddressIsThisMachine) {
  for (const char* uri : {"qemu:///system", "qemu+unix:///system?socket=/tmp/hv-a/libvirt-sock",
                          "qemu+tcp://127.0.0.2/system", "qemu+tls://localhost/system",
                          "qemu+tcp://[::1]:16509/system", "qemu://127.0.0.1/system"}) {
    EXPECT_TRUE(IsThisMachine(uri)) << uri;
  }
  for (const char* uri :
       {"qemu+ssh://root@localhost:2222/system",  // an ssh port forward may lead anywhere
        "qemu+ext:///system?command=/usr/bin/forward", "qemu+tcp://127.evil.example/system",
        "qemu+tcp://hv-b.example.net/system", "qemu+tcp://10.0.0.7/system", "default",
        "qemu+unix:///system?command=x"}) {
    EXPECT_FALSE(IsThisMachine(uri)) << uri;
  }
}

}  // namespace
}  // namespace vc::libvirt
