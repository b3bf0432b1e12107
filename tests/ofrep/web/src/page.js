// The browser test's page: the published OpenFeature web SDK with the OFREP web provider, pointed at vexil.
// Query parameters: baseUrl (the vexil server), key (a client SDK key), flag (a boolean flag key).
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

const params = new URLSearchParams(window.location.search);
const flag = params.get('flag');
const output = document.getElementById('flag');
document.getElementById('key').textContent = flag;
const status = document.getElementById('status');
const client = OpenFeature.getClient();

// Set once per page load: the test checks it is unchanged, i.e. the page never reloaded.
window.vexilLoadId = `${Date.now()}-${Math.random()}`;
window.vexilChanges = 0;

function render() {
  const details = client.getBooleanDetails(flag, false);
  output.textContent = details.value ? 'ON' : 'OFF';
  output.dataset.value = String(details.value);
  output.dataset.reason = details.reason;
  output.dataset.variant = details.variant ?? '';
  document.body.className = details.value ? 'on' : 'off';
}

client.addHandler(ProviderEvents.ConfigurationChanged, () => {
  window.vexilChanges += 1;
  render();
});
client.addHandler(ProviderEvents.Error, (event) => {
  status.textContent = `error: ${event?.message ?? 'unknown'}`;
});

async function main() {
  await OpenFeature.setContext({ targetingKey: 'browser-user', plan: 'pro' });
  const provider = new OFREPWebProvider({
    baseUrl: params.get('baseUrl'),
    headers: [['Authorization', `Bearer ${params.get('key')}`]],
    cacheMode: 'disabled',
  });
  await OpenFeature.setProviderAndWait(provider);
  render();
  status.textContent = 'ready';
}

main().catch((error) => {
  status.textContent = `failed: ${error}`;
});
