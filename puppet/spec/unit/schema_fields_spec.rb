# frozen_string_literal: true

require 'json'
require 'open3'
require 'tmpdir'
require 'spec_helper'
require 'puppet_x/virtconverge/field_attributes'

# One field table: schemas/desired-state.schema.json declares every kind's fields. The types take
# their document attributes, and the providers the fields they send, from
# lib/puppet_x/virtconverge/fields.rb, which scripts/generate-frontend-fields.py writes from the
# schema (the types load where catalogs are compiled and are pluginsynced from the module's lib/
# alone, so they cannot read the schema at run time). ctest puppet_fields_generated fails while
# that file is out of date; this spec checks what Puppet makes of it: every type carries exactly
# the schema's fields (nested ones too: disks[].discard, cpu.mode, features[]) with the schema's
# JSON types and enum values, as the attributes its provider sends to the engine (properties and
# passthrough), policy fields as parameters; and a field added to the schema becomes an attribute
# and a document field with no edit in the module.
RSpec.describe 'the Puppet types against schemas/desired-state.schema.json' do
  root = File.expand_path('../../..', __dir__)
  generator = File.join(root, 'scripts', 'generate-frontend-fields.py')
  schema_path = File.join(root, 'schemas', 'desired-state.schema.json')
  schema = JSON.parse(File.read(schema_path))
  regenerate = 'regenerate lib/puppet_x/virtconverge/fields.rb: python3 scripts/generate-frontend-fields.py'

  # Fields of the schema that a type spells otherwise (the module's own list, with its reasons).
  missing_on_purpose = PuppetX::Virtconverge::FieldAttributes::SPELLED_OTHERWISE.transform_values do |fields|
    fields.transform_keys(&:to_s)
  end
  # Attributes that are not document fields of the kind, with the reason.
  puppet_only = {
    'connection' => "where the resource is: the engine's --connection, not a field",
    'allow_destroy' => "an engine option of the resource's plan and apply (--allow-destroy)",
    'allow_overcommit' => "an engine option of the domain's plan and apply (--allow-overcommit)",
    'allow_restart' => "the domain's restart field (allowed), see FieldAttributes::SPELLED_OTHERWISE",
    'shutdown_timeout' => "an engine option of the domain's apply (--shutdown-timeout)",
    'ceph_conf' => "the document's ceph: section (conf), the cluster the resource is in",
    'ceph_user' => "the document's ceph: section (user)",
  }
  # Enum values a type deliberately accepts or refuses beyond the schema: { kind => { path => [values] } }.
  enum_exceptions = {}

  types = {
    'virt_host' => 'host', 'virt_pool' => 'pool', 'virt_network' => 'network', 'virt_volume' => 'volume',
    'rbd_image' => 'rbd_image', 'virt_domain' => 'domain'
  }

  # { path => { types: [json types], enum: [values] or nil } } of a schema node, fields below it too.
  schema_walk = lambda do |node, path, out|
    node = node.dup
    while (ref = node.delete('$ref'))
      node = schema['$defs'].fetch(ref.delete_prefix('#/$defs/')).merge(node)
    end
    types_of = Array(node['type'] || (node.key?('enum') ? 'string' : nil))
    # anyOf of plain alternatives (cloud_init's user_data: a mapping or a text): their types.
    types_of |= node['anyOf'].flat_map { |alt| Array(alt['type']) } if node['anyOf'].is_a?(Array) && node['type'].nil?
    out[path] = { types: types_of.sort, enum: node['enum']&.sort }
    node.fetch('properties', {}).each { |k, v| schema_walk.call(v, "#{path}.#{k}", out) } if types_of.include?('object')
    schema_walk.call(node['items'], "#{path}[]", out) if types_of.include?('array') && node['items']
    out
  end

  # The same table of a Puppet data type (Optional, Variant, Sensitive, Struct, Array, Enum, ...).
  puppet_walk = lambda do |type, path, out|
    t = Puppet::Pops::Types
    entry = (out[path] ||= { types: [], enum: nil })
    case type
    when t::POptionalType, t::PSensitiveType
      puppet_walk.call(type.is_a?(t::POptionalType) ? type.optional_type : type.type, path, out)
    when t::PVariantType
      type.types.each { |v| puppet_walk.call(v, path, out) }
    when t::PEnumType
      entry[:types] |= ['string']
      entry[:enum] = ((entry[:enum] || []) | type.values).sort
    when t::PStringType, t::PPatternType
      entry[:types] |= ['string']
    when t::PIntegerType
      entry[:types] |= ['integer']
    when t::PFloatType, t::PNumericType
      entry[:types] |= ['number']
    when t::PBooleanType
      entry[:types] |= ['boolean']
    when t::PArrayType
      entry[:types] |= ['array']
      puppet_walk.call(type.element_type, "#{path}[]", out)
    when t::PStructType
      entry[:types] |= ['object']
      type.elements.each { |e| puppet_walk.call(e.value_type, "#{path}.#{e.name}", out) }
    when t::PHashType # a free-form mapping (cloud-init's user_data): an object without properties
      entry[:types] |= ['object']
    else
      raise "#{path}: no JSON type for the Puppet type #{type}"
    end
    entry[:types].sort!
    out
  end

  types.each do |type_name, kind|
    describe "#{type_name} (#{kind})" do
      let(:type) do
        require "puppet/type/#{type_name}"
        require "puppet/provider/#{type_name}/#{type_name}"
        Puppet::Type.type(type_name.to_sym)
      end
      let(:definition) { type.type_definition }
      let(:provider) { Puppet::ResourceApi.load_provider(type_name).new }
      # ensure is every type's own, but virt_host's: a host is not created or deleted.
      let(:sent) { (definition.attributes.key?(:ensure) ? [:ensure] : []) + provider.properties + provider.passthrough }

      let(:schema_table) do
        # Placement fields (host, hosts) place a resource in a fleet (a document with hosts:); a
        # Puppet resource converges one host, its connection: the generator leaves them out.
        schema['$defs'].fetch(kind).fetch('properties').each_with_object({}) do |(field, node), out|
          schema_walk.call(node, field, out) unless node['x-change'] == 'placement'
        end
      end
      let(:puppet_table) do
        parser = Puppet::Pops::Types::TypeParser.singleton
        sent.each_with_object({}) do |attribute, out|
          options = definition.attributes.fetch(attribute) { raise "#{type_name}: the provider sends #{attribute}, the type has no such attribute" }
          puppet_walk.call(parser.parse(options[:type]), attribute.to_s, out)
        end
      end

      it 'sends every field the schema has, and none it lacks' do
        exceptions = missing_on_purpose.fetch(kind, {}).keys
        expect(schema_table.keys - puppet_table.keys - exceptions).to eq([]), "fields the type lacks (#{regenerate})"
        expect(puppet_table.keys - schema_table.keys).to eq([]), "fields the schema lacks (#{regenerate})"
        expect(exceptions - schema_table.keys).to eq([]), 'exceptions for fields the schema does not have (any more)'
      end

      it 'gives each field the JSON types and enum values of the schema' do
        (schema_table.keys & puppet_table.keys).each do |path|
          want = schema_table[path]
          have = puppet_table[path].dup
          # A JSON number may be written without a fraction: Puppet's Integer beside its Float.
          have[:types] -= ['integer'] if have[:types].include?('number') && !want[:types].include?('integer')
          expect(have[:types]).to eq(want[:types]), "#{type_name} #{path}: types #{have[:types]}, schema #{want[:types]} (#{regenerate})"
          expected_enum = want[:enum] && (want[:enum] | enum_exceptions.fetch(kind, {}).fetch(path, [])).sort
          expect(have[:enum]).to eq(expected_enum), "#{type_name} #{path}: values #{have[:enum].inspect}, schema #{want[:enum].inspect}"
        end
      end

      it 'makes the policy fields parameters (sent, never compared) and the other fields properties' do
        fields = schema['$defs'].fetch(kind).fetch('properties').reject do |f, node|
          f == 'ensure' || missing_on_purpose.fetch(kind, {}).key?(f) || node['x-change'] == 'placement'
        end
        policy = fields.select { |_f, node| node['x-change'] == 'policy' }.keys.map(&:to_sym)
        expect(provider.passthrough).to match_array(policy)
        expect(provider.properties).to match_array(fields.keys.map(&:to_sym) - policy)
        expect(type.properties.map(&:name)).to include(*provider.properties)
        expect(type.properties.map(&:name) & provider.passthrough).to eq([])
      end

      it 'canonicalizes exactly the size fields' do
        sizes = schema['$defs'].fetch(kind).fetch('properties').select { |_f, node| node['$ref'] == '#/$defs/size' }.keys
        expect(provider.size_fields).to match_array(sizes.map(&:to_sym))
      end

      it 'has no attribute that is neither a document field, a namevar nor a listed engine option' do
        others = definition.attributes.keys - sent - definition.namevars
        unexplained = others.map(&:to_s) - puppet_only.keys
        expect(unexplained).to eq([])
      end
    end
  end

  # The requirement of issue #9: a field added to the schema needs no hand edit in the module. The
  # generator writes the table of a schema that has one more domain field (as the engine's schema
  # would), and the module is run with that table.
  describe 'a field the schema gains (a restart-class enum machine_type of domains)' do
    let(:table) do
      Dir.mktmpdir do |dir|
        grown = JSON.parse(File.read(schema_path))
        grown['$defs']['domain']['properties']['machine_type'] = {
          'description' => 'The QEMU machine type.', 'enum' => ['pc', 'q35'], 'x-change' => 'restart'
        }
        File.write(File.join(dir, 'schema.json'), JSON.generate(grown))
        out, status = Open3.capture2e('/usr/bin/python3', generator, '--schema', File.join(dir, 'schema.json'),
                                      '--output-root', dir)
        raise "the generator failed: #{out}" unless status.success?
        loaded = Module.new
        loaded.module_eval(File.read(File.join(dir, 'puppet/lib/puppet_x/virtconverge/fields.rb')))
        loaded::PuppetX::Virtconverge::Fields::TABLE
      end
    end
    let(:provider) do
      require 'puppet/provider/virt_domain/virt_domain'
      Puppet::Provider::VirtDomain::VirtDomain.new
    end

    before(:each) { stub_const('PuppetX::Virtconverge::Fields::TABLE', table) }

    it 'is an attribute with the Puppet type and description of the schema' do
      attribute = PuppetX::Virtconverge::FieldAttributes.attributes('domain').fetch(:machine_type)
      expect(attribute).to eq(type: 'Optional[Enum[pc, q35]]', desc: 'The QEMU machine type.')
    end

    it 'is a property the provider compares and sends in the document' do
      expect(provider.properties).to include(:machine_type)
      spec = provider.entry('web1', {}, ensure: 'present', vcpus: 1, memory: '1GiB', machine_type: 'q35')
      expect(spec).to eq('vcpus' => 1, 'memory' => '1GiB', 'machine_type' => 'q35')
    end

    it 'is checked by a type built from the table' do
      Puppet::ResourceApi.register_type(
        name: 'vc_fields_probe',
        docs: 'A type built from the grown table, for this spec.',
        attributes: {
          ensure: { type: 'Enum[present, absent]', desc: 'ensure', default: 'present' },
          name: { type: 'String', desc: 'name', behaviour: :namevar },
          **PuppetX::Virtconverge::FieldAttributes.attributes('domain'),
        },
      )
      probe = Puppet::Type.type(:vc_fields_probe)
      expect(probe.properties.map(&:name)).to include(:machine_type)
      expect(probe.new(name: 'web1', machine_type: 'q35')[:machine_type]).to eq('q35')
      expect { probe.new(name: 'web1', machine_type: 'isa') }.to raise_error(Puppet::Error, %r{machine_type})
    end
  end

  it 'lists exceptions only with a reason' do
    (missing_on_purpose.values.flat_map(&:values) + puppet_only.values).each { |reason| expect(reason.to_s).not_to be_empty }
  end
end
