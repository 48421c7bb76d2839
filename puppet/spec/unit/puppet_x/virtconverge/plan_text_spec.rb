# frozen_string_literal: true

require 'spec_helper'
require 'puppet_x/virtconverge/plan_text'
require 'puppet_x/virtconverge/host'

RSpec.describe PuppetX::Virtconverge::PlanText do
  it 'finds the header, rows and steps of each change by layout' do
    text = described_class.new(<<~TEXT)
      Plan for test:///default (fingerprint fnv1a64:1)

      ~ domain.web1 (update, live)
          vcpus 1 → 2  (live: hot-plug)
          → hot-plug vCPUs of domain.web1 to 2

      -/+ volume.p/v (replace, destructive)
          format qcow2 → raw  (destructive: recreated)

      Pending restart (in the persistent config, not yet in the running guest):
          domain.web2 max_memory: running 1GiB, next boot 2GiB

      Error: volume.p/v: destructive change refused without --allow-destroy
          format: recreated

      Plan: 1 to create, 1 to update (1 live, 0 need restart), 1 to replace, 0 to destroy.
    TEXT
    expect(text.change('domain.web1')).to eq(header: '~ domain.web1 (update, live)', rows: ['vcpus 1 → 2  (live: hot-plug)'],
                                             steps: ['hot-plug vCPUs of domain.web1 to 2'])
    expect(text.row('volume.p/v', 0)).to eq('format qcow2 → raw  (destructive: recreated)')
    expect(text.row('volume.p/v', 1)).to be_nil
    expect(text.change('domain.web2')).to be_nil
    expect(described_class.new(nil)).to be_empty
  end

  # The layout the providers rely on, from the engine itself: one row per attribute of the JSON
  # change, in its order, and one line per step.
  it "matches the engine's own text: a row per attribute, a line per step", :test_driver, if: engine_binary do
    result = engine.request('plan', document: { 'version' => 1, 'domains' => { 'test' => { 'vcpus' => 1, 'memory' => '1GiB', 'autostart' => true },
                                                                                'web9' => { 'vcpus' => 1, 'memory' => '64MiB' } } },
                                    options: { 'connection' => TestDriver::URI, 'text' => true })
    text = described_class.new(result['text'])
    result['plan']['changes'].each do |change|
      lines = text.change(change['address'])
      expect(lines[:header]).to start_with({ 'create' => '+', 'update' => '~' }.fetch(change['action']) + " #{change['address']} (")
      expect(lines[:rows].size).to eq(change['attributes'].size)
      change['attributes'].each_with_index { |a, i| expect(lines[:rows][i]).to start_with(a['path']) }
      expect(lines[:steps]).to eq(change['steps'].map { |s| s['description'] })
    end
    expect(result['plan']['changes'].size).to eq(2)
  end
end
