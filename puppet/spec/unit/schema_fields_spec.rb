# frozen_string_literal: true

require 'json'
require 'spec_helper'

# One field table: schemas/desired-state.schema.json is the normative list of every kind's fields,
# their JSON types and enum values. Each Puppet type must carry exactly those (nested ones too:
# disks[].discard, cpu.mode, features[]), as the attributes its provider sends to the engine
# (properties and passthrough), unless an exception below says why not.
#
# Why a test and not attributes derived from the schema when the type loads: types are loaded
# where catalogs are compiled (the Puppet server) and pluginsynced to agents from the module's lib/
# alone; the schema file is not part of the module and the engine binary is not on the server. So
# the types stay plain data, and this test keeps them equal to the schema.
RSpec.describe 'the Puppet types against schemas/desired-state.schema.json' do
  schema_path = File.expand_path('../../../schemas/desired-state.schema.json', __dir__)
  schema = JSON.parse(File.read(schema_path))

  # Fields of the schema that a type deliberately leaves out (or spells otherwise), with the reason.
  missing_on_purpose = {
    'domain' => {
      'restart' => 'the boolean parameter allow_restart (true: restart: allowed; false: the default, pending)',
    },
  }
  # Attributes that are not document fields of the kind, with the reason.
  puppet_only = {
    'connection' => "where the resource is: the engine's --connection, not a field",
    'allow_destroy' => "an engine option of the resource's plan and apply (--allow-destroy)",
    'allow_restart' => "the domain's restart field (allowed), see above",
    'shutdown_timeout' => "an engine option of the domain's apply (--shutdown-timeout)",
    'ceph_conf' => "the document's ceph: section (conf), the cluster the resource is in",
    'ceph_user' => "the document's ceph: section (user)",
  }
  # Enum values a type deliberately accepts or refuses beyond the schema: { kind => { path => [values] } }.
  enum_exceptions = {}

  types = {
    'virt_pool' => 'pool', 'virt_network' => 'network', 'virt_volume' => 'volume',
    'rbd_image' => 'rbd_image', 'virt_domain' => 'domain'
  }

  # { path => { types: [json types], enum: [values] or nil } } of a schema node, fields below it too.
  schema_walk = lambda do |node, path, out|
    node = node.dup
    while (ref = node.delete('$ref'))
      node = schema['$defs'].fetch(ref.delete_prefix('#/$defs/')).merge(node)
    end
    types_of = Array(node['type'] || (node.key?('enum') ? 'string' : nil))
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
    when t::PBooleanType
      entry[:types] |= ['boolean']
    when t::PArrayType
      entry[:types] |= ['array']
      puppet_walk.call(type.element_type, "#{path}[]", out)
    when t::PStructType
      entry[:types] |= ['object']
      type.elements.each { |e| puppet_walk.call(e.value_type, "#{path}.#{e.name}", out) }
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
      let(:sent) { [:ensure] + provider.properties + provider.passthrough }

      let(:schema_table) do
        schema['$defs'].fetch(kind).fetch('properties').each_with_object({}) do |(field, node), out|
          schema_walk.call(node, field, out)
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
        expect(schema_table.keys - puppet_table.keys - exceptions).to eq([]), 'fields the type lacks'
        expect(puppet_table.keys - schema_table.keys).to eq([]), 'fields the schema lacks'
        expect(exceptions - schema_table.keys).to eq([]), 'exceptions for fields the schema does not have (any more)'
      end

      it 'gives each field the JSON types and enum values of the schema' do
        (schema_table.keys & puppet_table.keys).each do |path|
          want = schema_table[path]
          have = puppet_table[path]
          expect(have[:types]).to eq(want[:types]), "#{type_name} #{path}: types #{have[:types]}, schema #{want[:types]}"
          expected_enum = want[:enum] && (want[:enum] | enum_exceptions.fetch(kind, {}).fetch(path, [])).sort
          expect(have[:enum]).to eq(expected_enum), "#{type_name} #{path}: values #{have[:enum].inspect}, schema #{want[:enum].inspect}"
        end
      end

      it 'has no attribute that is neither a document field, a namevar nor a listed engine option' do
        others = definition.attributes.keys - sent - definition.namevars
        unexplained = others.map(&:to_s) - puppet_only.keys
        expect(unexplained).to eq([])
      end
    end
  end

  it 'lists exceptions only with a reason' do
    (missing_on_purpose.values.flat_map(&:values) + puppet_only.values).each { |reason| expect(reason.to_s).not_to be_empty }
  end
end
