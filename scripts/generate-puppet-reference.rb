#!/usr/bin/env ruby
# frozen_string_literal: true

# Writes the Puppet module's REFERENCE.md (the Forge's reference page, in puppet-strings' layout)
# from the Resource API definitions of its types, loaded as Puppet loads them.
#
# Why not `puppet strings generate --format markdown`: Debian 12 has puppet-strings 2.9, but it
# reads each register_type call statically (YARD) and documents none of these types, because their
# attributes are merged at load time from the generated field table
# (`**FieldAttributes.attributes(kind)`, lib/puppet_x/virtconverge/fields.rb); it warns
# "Undocumentable unexpected construct" and writes an empty reference. Loading the types gives
# exactly the attributes, data types, defaults and descriptions Puppet itself sees.
#
# Usage:
#   scripts/generate-puppet-reference.rb [--module DIR] [--out FILE]   # default: puppet/, stdout
#   scripts/generate-puppet-reference.rb [--module DIR] --check FILE   # exit 1 with a diff when FILE is stale
require 'optparse'
require 'open3'
require 'tempfile'

# One type's docs string, split as YARD reads it: the @summary, the free text, the @example blocks.
class TypeDocs
  attr_reader :summary, :text, :examples

  def initialize(docs)
    @summary = +''
    @text = []
    @examples = [] # [title, code]
    parse(dedent(docs.lines.map(&:rstrip)))
  end

  private

  def dedent(lines)
    indent = lines.reject(&:empty?).map { |l| l[/\A */].size }.min || 0
    lines.map { |l| l[indent..] || '' }
  end

  # A tag's text goes on while lines are indented (YARD's rule); a line back at the left margin
  # returns to the free text. @summary ends at the first blank line. An unknown tag is an error,
  # so a tag this generator does not render is never silently dropped.
  def parse(lines)
    mode = :text
    lines.each do |line|
      if (m = line.match(/\A@(\w+)\s*(.*)\z/))
        case m[1]
        when 'summary' then mode = :summary
                            @summary << m[2]
        when 'example' then mode = :example
                            @examples << [m[2], []]
        else raise "unknown docs tag @#{m[1]}"
        end
      elsif mode == :summary && !line.empty?
        @summary << ' ' << line.strip
      elsif mode == :example && (line.empty? || line.start_with?(' '))
        @examples.last[1] << line
      else
        mode = :text
        @text << line
      end
    end
    @text = squeeze_blank(@text)
    @examples = @examples.map { |title, code| [title, squeeze_blank(dedent(code)).join("\n")] }
  end

  def squeeze_blank(lines)
    lines.chunk_while { |a, b| a.empty? && b.empty? }.map(&:first).drop_while(&:empty?)
         .reverse.drop_while(&:empty?).reverse
  end
end

# The Markdown reference of the registered types, sorted by name.
class Reference
  BEHAVIOUR = {
    nil => :property,
    read_only: :property,
    init_only: :property,
    parameter: :parameter,
    namevar: :parameter,
  }.freeze

  def initialize(definitions)
    @definitions = definitions.sort_by { |d| d[:name].to_s }
  end

  def to_s
    out = ["# Reference\n",
           '<!-- DO NOT EDIT: generated from the types\' Resource API definitions by ' \
           "scripts/generate-puppet-reference.rb -->\n",
           "## Table of Contents\n", "### Resource types\n"]
    @definitions.each { |d| out << "* [`#{d[:name]}`](##{d[:name]}): #{md(TypeDocs.new(d[:desc]).summary)}" }
    out << "\n## Resource types\n"
    @definitions.each { |d| out.concat(type_section(d)) }
    "#{out.join("\n").gsub(/\n{3,}/, "\n\n").rstrip}\n"
  end

  private

  # Text for Markdown: a `<` outside a code span would open an HTML tag (`<pool>/<image>` would
  # vanish on the Forge's page), so it is escaped there.
  def md(text)
    text.split(/(`[^`]*`)/).map { |part| part.start_with?('`') ? part : part.gsub('<', '&lt;') }.join
  end

  def type_section(definition)
    name = definition[:name].to_s
    docs = TypeDocs.new(definition[:desc])
    out = ["### <a name=\"#{name}\"></a>`#{name}`\n", md(docs.summary), '', md(docs.text.join("\n")), '']
    unless docs.examples.empty?
      out << "#### Examples\n"
      docs.examples.each do |title, code|
        out << "##### #{title}\n" unless title.empty?
        out << "```puppet\n#{code}\n```\n"
      end
    end
    attributes = definition[:attributes].map do |attr, options|
      unknown = options.keys - %i[type desc default behaviour]
      raise "#{name}.#{attr}: attribute option(s) #{unknown.join(', ')} not rendered" unless unknown.empty?
      kind = BEHAVIOUR.fetch(options[:behaviour]) { raise "#{name}.#{attr}: behaviour #{options[:behaviour]}" }
      [attr.to_s, options, kind]
    end
    { property: 'properties', parameter: 'parameters' }.each do |kind, heading|
      listed = attributes.select { |_, _, k| k == kind }
      next if listed.empty?

      out << "#### #{heading.capitalize}\n"
      out << "The following #{heading} are available in the `#{name}` type.\n"
      listed.each { |attr, options, _| out.concat(attribute_section(definition, attr, options)) }
    end
    out.concat(autorequires(definition))
    out
  end

  def attribute_section(definition, attr, options)
    out = ["##### <a name=\"-#{definition[:name]}--#{attr}\"></a>`#{attr}`\n"]
    case options[:behaviour]
    when :namevar then out << "namevar\n"
    when :read_only then out << "Read-only: reported by the provider, never set.\n"
    when :init_only then out << "Set only when the resource is created.\n"
    end
    out << "Data type: `#{options[:type]}`\n"
    out << "#{md(options[:desc])}\n" if options[:desc]
    out << "Default value: `#{options[:default]}`\n" if options.key?(:default)
    if options[:behaviour] == :namevar && definition[:title_patterns]
      patterns = definition[:title_patterns].map { |p| p[:desc] }
      out << "The title may be: #{patterns.join('; or ')}.\n"
    end
    out
  end

  def autorequires(definition)
    return [] unless definition[:autorequire]

    ["#### Autorequires\n",
     *definition[:autorequire].map { |type, value| "* `#{type.to_s.capitalize}[#{value}]`" }, '']
  end
end

# The Resource API definitions of the module's types (lib/puppet/type/*.rb), loaded with the
# module's lib/ first on the load path.
def load_definitions(module_dir)
  lib = File.join(module_dir, 'lib')
  $LOAD_PATH.unshift(lib)
  require 'puppet'
  require 'puppet/resource_api'
  files = Dir[File.join(lib, 'puppet', 'type', '*.rb')].sort
  raise "no types under #{lib}/puppet/type" if files.empty?

  files.map do |file|
    load file
    Puppet::Type.type(File.basename(file, '.rb').to_sym).type_definition.definition
  end
end

module_dir = File.expand_path('../puppet', __dir__)
out = nil
check = nil
OptionParser.new do |o|
  o.banner = 'usage: generate-puppet-reference.rb [--module DIR] [--out FILE | --check FILE]'
  o.on('--module DIR', 'the module (default: puppet/ of this source tree)') { |v| module_dir = File.expand_path(v) }
  o.on('--out FILE', 'write the reference there (default: stdout)') { |v| out = v }
  o.on('--check FILE', 'compare FILE with the reference; exit 1 with a diff when they differ') { |v| check = v }
end.parse!
abort 'generate-puppet-reference.rb: --out and --check exclude each other' if out && check

text = Reference.new(load_definitions(module_dir)).to_s
if check
  current = File.exist?(check) ? File.read(check) : ''
  exit 0 if current == text

  Tempfile.create('REFERENCE.md') do |fresh|
    fresh.write(text)
    fresh.flush
    diff, = Open3.capture2('diff', '-u', check, fresh.path)
    warn "#{check} is not what scripts/generate-puppet-reference.rb writes from #{module_dir} " \
         "(rebuild the module: scripts/build-puppet-module.sh):\n#{diff}"
  end
  exit 1
elsif out
  File.write(out, text)
else
  $stdout.write(text)
end
