# frozen_string_literal: true

require 'json'
require 'open3'
require 'tempfile'

# The engine's answers that the stand-in-session specs hand the providers: whole plans of the
# engine's contract (schemas/plan.schema.json, format_version 2), never fragments of one. Every
# plan built here is recorded, and after the suite all of them are validated against the schema in
# the tree (with Debian's python3-jsonschema: Debian has no json-schema gem), so a canned plan
# cannot drift from what the engine writes.
module CannedPlans
  SCHEMA = File.expand_path('../../../schemas/plan.schema.json', __dir__)
  PYTHON = '/usr/bin/python3'
  VALIDATOR = <<~PY
    import json, sys
    import jsonschema
    schema = json.load(open(sys.argv[1]))
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for entry in json.load(open(sys.argv[2])):
        for e in sorted(validator.iter_errors(entry["plan"]), key=str):
            path = "/".join(str(p) for p in e.absolute_path)
            problems.append(f"{entry['from']}: /{path}: {e.message}")
    print("\\n".join(problems))
    sys.exit(1 if problems else 0)
  PY

  @recorded = []

  class << self
    attr_reader :recorded

    # Problems of plans against the plan schema, each "FROM: /PATH: MESSAGE": [] when every one is
    # valid. entries: [{ 'from' => where the plan was made, 'plan' => PLAN }].
    def problems(entries)
      Tempfile.create(['canned-plans', '.json']) do |file|
        file.write(JSON.generate(entries))
        file.flush
        out, err, status = Open3.capture3(PYTHON, '-c', VALIDATOR, SCHEMA, file.path)
        raise "cannot validate the canned plans (#{PYTHON}, python3-jsonschema): #{err}" unless [0, 1].include?(status.exitstatus)
        return [] if status.success?
        out.lines.map(&:chomp).reject(&:empty?)
      end
    end
  end

  # A plan of the engine's contract: changes, diagnostics and pending as given (the fields a spec
  # leaves out filled in as the engine would), the rest of a real plan around them.
  def canned_plan(changes = [], diagnostics: [], pending: [], connection: 'test:///default', options: {})
    changes = changes.map { |c| canned_change(c) }
    diagnostics = diagnostics.map { |d| canned_diagnostic(d) }
    count = ->(key, value) { changes.count { |c| c[key] == value } }
    plan = {
      'format_version' => 2, 'tool_version' => '0.1.0', 'connection' => connection, 'ceph' => nil,
      'document' => { 'version' => 1 }, 'fingerprint' => 'fnv1a64:0123456789abcdef',
      'options' => { 'allow_destroy' => false, 'allow_restart' => false, 'prune' => false,
                     'shutdown_timeout_seconds' => 60, 'skip_unreachable' => false,
                     'allow_overcommit' => false }.merge(options),
      'applyable' => diagnostics.none? { |d| d['severity'] == 'error' },
      'changes' => changes, 'pending' => pending, 'diagnostics' => diagnostics,
      'summary' => { 'create' => count.call('action', 'create'), 'update' => count.call('action', 'update'),
                     'replace' => count.call('action', 'replace'), 'delete' => count.call('action', 'delete'),
                     'migrate' => count.call('action', 'migrate'),
                     'live' => count.call('disruption', 'live'), 'restart' => count.call('disruption', 'restart'),
                     'destructive' => count.call('disruption', 'destructive') },
      'digest' => "sha256:#{'0' * 64}"
    }
    CannedPlans.recorded << { 'from' => caller_locations(1, 3).map(&:to_s).find { |l| l.include?('_spec.rb') }.to_s, 'plan' => plan }
    plan
  end

  # serve's result of a plan request with `text: true` (`text`: the lines of the engine's text
  # plan a spec quotes; nil: none).
  def canned_result(changes = [], text: nil, **plan)
    result = { 'plan' => canned_plan(changes, **plan) }
    result['text'] = text unless text.nil?
    result
  end

  # The engine's text plan of one change, for the stand-in session's `text`: its header line, its
  # rows (one per attribute, in order) and its steps, laid out as engine/plan_text.cc does.
  def canned_text(header, rows: [], steps: [], errors: [])
    lines = ['Plan for test:///default (fingerprint fnv1a64:0123456789abcdef)', '', header]
    lines += rows.map { |r| "    #{r}" } + steps.map { |st| "    → #{st}" }
    errors.each { |e| lines += ['', "Error: #{e}"] }
    (lines + ['', 'Plan: (counts)']).join("\n") + "\n"
  end

  # An apply report of the contract (docs/serve.md): outcomes as given, filled in.
  def canned_report(outcomes, pending: [])
    outcomes = outcomes.map do |o|
      { 'action' => 'update', 'ok' => true, 'code' => nil, 'transient' => false, 'error' => nil, 'steps' => [],
        'converged' => true, 'remaining' => [] }.merge(o)
    end
    { 'ok' => outcomes.all? { |o| o['ok'] }, 'outcomes' => outcomes, 'pending' => pending,
      'verification_code' => nil, 'verification_error' => nil }
  end

  def canned_change(change)
    kind, name = change.fetch('address').split('.', 2)
    create = change['action'] == 'create'
    { 'kind' => kind, 'name' => name, 'host' => nil, 'from_host' => nil, 'before' => create ? nil : {}, 'desired' => {}, 'steps' => [],
      'attributes' => [] }.merge(change).tap do |c|
      c['attributes'] = c['attributes'].map { |a| { 'before' => nil, 'after' => nil, 'reason' => '' }.merge(a) }
    end
  end

  def canned_diagnostic(diagnostic)
    { 'severity' => 'error', 'transient' => false, 'address' => '', 'detail' => '' }.merge(diagnostic)
  end
end

RSpec.configure do |c|
  c.include CannedPlans
  c.after(:suite) do
    problems = CannedPlans.problems(CannedPlans.recorded) unless CannedPlans.recorded.empty?
    unless problems.nil? || problems.empty?
      raise "canned plans that do not follow #{CannedPlans::SCHEMA}:\n#{problems.join("\n")}"
    end
  end
end
