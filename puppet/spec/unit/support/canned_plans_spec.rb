# frozen_string_literal: true

require 'spec_helper'

# The canned engine answers of the other specs are checked against schemas/plan.schema.json after
# the suite; this shows that the check finds a plan that lacks what the contract requires.
RSpec.describe CannedPlans do
  let(:plan) do
    canned_plan([{ 'address' => 'domain.web1', 'action' => 'update', 'disruption' => 'live',
                   'attributes' => [{ 'path' => 'vcpus', 'before' => 1, 'after' => 2, 'disruption' => 'live', 'reason' => 'hot-plug' }] }],
                diagnostics: [{ 'severity' => 'warning', 'code' => 'skipped', 'summary' => 'a warning' }],
                pending: [{ 'address' => 'domain.web1', 'path' => 'max_vcpus', 'live' => 4, 'config' => 6 }])
  end

  it 'builds plans of the schema' do
    expect(described_class.problems([{ 'from' => 'here', 'plan' => plan }])).to eq([])
  end

  it 'finds a plan of format 1, a change without steps and a diagnostic without a code' do
    old = plan.merge('format_version' => 1)
    old['changes'] = [plan['changes'][0].reject { |k, _| k == 'steps' }]
    old['diagnostics'] = [plan['diagnostics'][0].reject { |k, _| k == 'code' }]
    problems = described_class.problems([{ 'from' => 'old', 'plan' => old }])
    expect(problems).to include(a_string_matching(%r{\Aold: /format_version: }),
                                a_string_matching(%r{\Aold: /changes/0: 'steps' is a required property}),
                                a_string_matching(%r{\Aold: /diagnostics/0: 'code' is a required property}))
  end
end
