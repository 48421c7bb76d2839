# frozen_string_literal: true

require 'spec_helper'
require 'puppet/type/virt_volume'
require 'puppet/provider/virt_volume/virt_volume'

RSpec.describe Puppet::Provider::VirtVolume::VirtVolume, :test_driver, if: engine_binary do
  subject(:provider) { provider_for('virt_volume') }

  let(:title) { { pool: 'vcp-images', volume: 'vcp-data' } }

  before(:each) do
    converge(provider_for('virt_pool'), 'vcp-images', type: 'dir', path: '/tmp/vcp-spec/images')
    expect(converge(provider, title, capacity: '2048MiB', format: 'raw')).to eq(["defined 'ensure' as 'present': + volume.vcp-images/vcp-data (create, no disruption)"])
  end

  it 'lists volumes with a pool/volume title, as `puppet resource` needs' do
    found = provider_for('virt_volume', next_run_host).get(context, [title])
    expect(found).to eq([{ title: 'vcp-images/vcp-data', pool: 'vcp-images', volume: 'vcp-data', ensure: 'present',
                           capacity: '2GiB', format: 'raw' }])
  end

  it 'plans growing a volume as live (the test driver cannot resize: the engine error fails the resource)' do
    again = provider_for('virt_volume', next_run_host)
    should = again.canonicalize(context, [title.merge(ensure: 'present', connection: TestDriver::URI, capacity: 3 << 30)]).first
    is = again.get(context, [title]).first
    expect(again.insync?(context, title, :capacity, is, should)).to match([false, a_string_starting_with('capacity 2GiB → 3GiB  (live')])
    expect { again.set(context, title => { is: is, should: should }) }
      .to raise_error(Puppet::ResourceError, %r{not supported by the connection driver})
  end

  it 'refuses to shrink or delete without allow_destroy, and does it with' do
    again = provider_for('virt_volume', next_run_host)
    expect { converge(again, title, capacity: '1GiB') }
      .to raise_error(Puppet::ResourceError, %r{destructive change refused without --allow-destroy .*set allow_destroy => true on this resource})
    expect { converge(again, title, ensure: 'absent') }.to raise_error(Puppet::ResourceError, %r{allow_destroy => true})
    third = provider_for('virt_volume', next_run_host)
    expect(converge(third, title, ensure: 'absent', allow_destroy: true))
      .to eq(["undefined 'ensure' from 'present': - volume.vcp-images/vcp-data (delete, destructive); delete  (destructive: the volume and its data are deleted)"])
  end
end
