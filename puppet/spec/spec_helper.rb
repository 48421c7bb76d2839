# frozen_string_literal: true

# Debian's rspec-puppet and puppetlabs_spec_helper, no Gemfile or bundler: run `rspec` from the
# module root (tests/puppet.cmake does).
RSpec.configure { |c| c.mock_with :rspec } # before the require, or mocha is chosen
require 'puppetlabs_spec_helper/module_spec_helper'

lib = File.expand_path('../lib', __dir__)
$LOAD_PATH.unshift(lib) unless $LOAD_PATH.include?(lib)

require 'puppet/resource_api'

# The engine binary for the specs that drive the real engine on libvirt's test driver
# (test:///default keeps its state for one `serve` session): $VIRTCONVERGE_BIN, else the build
# tree beside the module. Those specs are skipped when there is none.
def engine_binary
  candidates = [ENV['VIRTCONVERGE_BIN'], File.expand_path('../../build/virtconverge', __dir__)]
  candidates.compact.find { |c| File.file?(c) && File.executable?(c) }
end

RSpec.configure do |c|
  c.after(:each) { PuppetX::Virtconverge::Host.reset if defined?(PuppetX::Virtconverge::Host) }
end

require_relative 'support/test_driver'
require_relative 'support/canned_plans'
