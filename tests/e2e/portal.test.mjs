// portal: the web console in a real browser (Debian's Chromium, headless,
// driven by Playwright; lib/browser.mjs) against the real keyvaultd and
// cofferd. As an operator would: sign in with the admin token, create an
// identity, connect the key vault, create a Premium registry encrypted
// under a key picked from the vault (and see the reference's refusals as
// the API words them), push an image with skopeo and see it appear, revoke
// the key in the vault and see the registry turn locked with its reason,
// restore it, rotate it, read the activity that correlates the registry's
// key events with the vault's audit lines, delete a tag. A registry's
// admin user signs in and sees only its registry. Refused: no session, a
// forged session, a cross-site POST, a credential in a URL, a signed-out
// cookie.
//
// PORTAL_SCREENSHOTS=DIR saves the main pages as PNGs (docs/portal.md).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startCmkStack, waitFor } from './lib/cmk.mjs';
import { buildImage, put, skopeo } from './lib/images.mjs';
import { launchBrowser } from './lib/browser.mjs';

const SHOTS = process.env.PORTAL_SCREENSHOTS;

describe('portal', { timeout: 300000 }, () => {
  let s;
  let browser;
  let page;
  let base;
  let key;
  let mi;
  const REG = 'portalcmk1';
  const VAULT = 'portalkv';

  const shot = async (name, p = page) => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };
  // A request without the browser: status, headers and text.
  const raw = async (path, o = {}) => {
    const r = await fetch(`${base}${path}`, { redirect: 'manual', ...o });
    return { status: r.status, headers: r.headers, text: await r.text() };
  };
  const flash = async () => (await page.locator('.flash').textContent()).trim();

  before(async () => {
    s = await startCmkStack({ keyCheckInterval: 1 });
    base = s.mgmtUrl;
    await s.createVault(VAULT);
    key = await s.createKey(VAULT, 'portalkey');
    browser = await launchBrowser();
    page = await browser.newPage();
  });
  after(async () => {
    await browser?.close();
    await s?.stop();
  });

  test('without a session: pages go to sign-in, changes are refused, nothing changes', async () => {
    let r = await raw('/portal/registries');
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), '/portal/signin');
    r = await raw('/portal/registries/new', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=sneaky12345&sku=Premium&encryption=service',
    });
    assert.equal(r.status, 401);
    // a forged session cookie is no session
    r = await raw('/portal/registries', { headers: { cookie: `coffer_session=${'A'.repeat(43)}` } });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), '/portal/signin');
    r = await raw('/portal/registries/new', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: 'coffer_session=forged' },
      body: 'name=sneaky12345&sku=Premium&encryption=service',
    });
    assert.equal(r.status, 401);
    assert.equal((await s.mgmt('GET', '/registries/sneaky12345')).status, 404, 'nothing was created');
  });

  test('a credential in a URL is refused, and never signs in', async () => {
    for (const path of [`/portal/signin?token=${s.adminToken}`, `/portal/registries?token=${s.adminToken}`,
      '/portal/?access_token=x', `/portal/registries?coffer_session=${'B'.repeat(43)}`]) {
      const r = await raw(path);
      assert.equal(r.status, 400, path);
      assert.equal(r.headers.get('set-cookie'), null, `${path}: no cookie`);
      assert.match(r.text, /Credentials are never accepted in a URL/);
    }
    const r = await raw(`/portal/signin?token=${s.adminToken}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'kind=operator',
    });
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('set-cookie'), null);
    assert.ok(!s.cofferdLog().includes(s.adminToken), 'the admin token is in no log line');
  });

  test('sign in with the admin token, with the keyboard only', async () => {
    await page.goto(`${base}/portal/`);
    assert.equal(new URL(page.url()).pathname, '/portal/signin');
    await shot('signin');
    // the first Tab reaches the skip link; the form is reachable and submits with Enter
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
    await page.focus('#token');
    await page.keyboard.type('wrong-token');
    await page.keyboard.press('Enter');
    await page.waitForLoadState();
    assert.match(await page.locator('[role=alert]').textContent(), /admin token is not right/);
    await page.focus('#token');
    await page.keyboard.type(s.adminToken);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/portal/registries`);
    const cookies = await browser.context.cookies(`${base}/portal/`);
    const c = cookies.find((x) => x.name === 'coffer_session');
    assert.ok(c, 'a session cookie');
    assert.equal(c.httpOnly, true);
    assert.equal(c.sameSite, 'Strict');
    assert.equal(c.secure, false, 'plain HTTP listener: not Secure');
    assert.equal(c.path, '/portal/');
    assert.ok(!c.value.includes(s.adminToken.slice(0, 10)), 'the cookie is not the token');
  });

  test('create an identity and connect the key vault', async () => {
    await page.click('nav[aria-label=Main] >> text=Identities');
    await page.fill('#idname', 'portal-mi');
    await page.click('button:has-text("Create")');
    assert.match(await flash(), /Identity portal-mi created/);
    mi = (await s.mgmt('GET', '/identities/portal-mi')).json;
    assert.match(await page.locator('table').textContent(), new RegExp(mi.principalId));
    // the vault side (the vault's own portal in the reference): purge
    // protection is on, the identity gets get, wrapKey, unwrapKey
    await s.grant(VAULT, mi.principalId);
    await page.click('nav[aria-label=Main] >> text=Key vault');
    await page.fill('#vurl', s.kv.url);
    await page.fill('#vtok', 'not-the-token');
    await page.click('button:has-text("Connect")');
    assert.match(await page.locator('[role=alert]').textContent(), /Not connected/);
    await page.fill('#vurl', s.kv.url);
    await page.fill('#vtok', s.kv.adminToken);
    await page.click('button:has-text("Connect")');
    assert.match(await flash(), /Connected to the key vault/);
    assert.match(await page.locator('table').textContent(), new RegExp(VAULT));
  });

  async function createForm({ name, sku = 'Premium', keyuri, vaultKey }) {
    await page.goto(`${base}/portal/registries/new`);
    await page.fill('#name', name);
    await page.selectOption('#sku', sku);
    await page.check('input[name=encryption][value=cmk]');
    await page.selectOption('#identity', 'portal-mi');
    if (vaultKey) {
      await page.check('input[name=keysource][value=vault]');
      await page.selectOption('#vaultkey', vaultKey);
    } else {
      await page.check('input[name=keysource][value=uri]');
      await page.fill('#keyuri', keyuri);
    }
    await page.click('button:has-text("Create the registry")');
    await page.waitForLoadState();
  }

  test('creating with a customer-managed key: the refusals as the API words them', async () => {
    const ec = await s.createKey(VAULT, 'portalec', { kty: 'EC' });
    await s.createVault('portalnopurge', { purgeProtection: false });
    const nopurge = await s.createKey('portalnopurge', 'k1');
    await s.grant('portalnopurge', mi.principalId);
    await s.createVault('portalnoaccess');
    const noaccess = await s.createKey('portalnoaccess', 'k1');
    const cases = [
      [{ name: 'portalstd1', sku: 'Standard', keyuri: key.id }, 'CmkRequiresPremium', /only available for Premium/],
      [{ name: 'portalec1', keyuri: ec.id }, 'KeyTypeNotSupported', /must be RSA or RSA-HSM/],
      [{ name: 'portalnp1', keyuri: nopurge.id }, 'PurgeProtectionRequired', /purge protection/],
      [{ name: 'portalna1', keyuri: noaccess.id }, 'KeyVaultAccessDenied', /Verify that identity/],
    ];
    for (const [form, code, text] of cases) {
      await createForm(form);
      const box = page.locator('[role=alert]');
      assert.match(await box.textContent(), new RegExp(code), form.name);
      assert.match(await box.textContent(), text, form.name);
      if (code === 'KeyTypeNotSupported') await shot('create-refused');
      assert.equal((await s.mgmt('GET', `/registries/${form.name}`)).status, 404, `${form.name} not created`);
      // the form keeps what was typed
      assert.equal(await page.inputValue('#name'), form.name);
    }
  });

  test('create a registry with a key picked from the vault (automatic rotation)', async () => {
    await page.goto(`${base}/portal/registries/new`);
    const options = await page.locator('#vaultkey option').allTextContents();
    assert.ok(options.some((o) => o.includes('portalkey')), `listed from keyvaultd: ${options}`);
    await page.fill('#name', REG);
    await page.check('input[name=encryption][value=cmk]');
    await page.selectOption('#identity', 'portal-mi');
    await page.check('input[name=keysource][value=vault]');
    await page.selectOption('#vaultkey', { label: `${VAULT} / portalkey` });
    await shot('create');
    await page.click('button:has-text("Create the registry")');
    await page.waitForURL(`${base}/portal/registries/${REG}`);
    assert.match(await flash(), new RegExp(`Registry ${REG} created`));
    const kvp = await s.kvp(REG);
    assert.equal(kvp.keyRotationEnabled, true);
    assert.equal(kvp.keyIdentifier, key.id.replace(s.kv.url, kvp.keyIdentifier.split('/keys/')[0]));
  });

  let layout;
  test('push an image with skopeo and see it appear', async () => {
    layout = await buildImage({ tag: 'v1', layers: [(x) => put(x, 'etc/motd', 'portal\n')] });
    await s.push(layout, REG, 'v1', 'team/app');
    await skopeo(['copy', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout}:v1`,
      `docker://${s.ref(REG, 'team/app')}:v2`]);
    await page.goto(`${base}/portal/registries/${REG}`);
    await page.click('text=team/app');
    const rows = page.locator('table tbody tr');
    assert.equal(await rows.count(), 2);
    assert.match(await rows.nth(0).textContent(), /v1.*sha256:.*application\/vnd\.oci\.image\.manifest\.v1\+json/);
    await shot('repository');
    await page.click('table tbody tr >> nth=0 >> a >> nth=0');
    assert.match(await page.locator('main').textContent(), /Layers1, /);
    assert.match(await page.locator('main').textContent(), /Referrers/);
    await shot('manifest');
    // filtering happens on the server
    await page.goto(`${base}/portal/registries/${REG}?q=nomatch`);
    assert.match(await page.locator('ul.repos').textContent(), /No repository matches/);
  });

  test('revoke the key in the vault: the registry turns locked with its reason', async () => {
    await s.revokeAll(VAULT, mi.principalId);
    await waitFor('registry locked in the portal', async () => {
      await page.goto(`${base}/portal/registries`);
      const row = page.locator(`tr:has(a:text-is("${REG}"))`);
      return (await row.getAttribute('class')) === 'locked' && row;
    });
    const row = page.locator(`tr:has(a:text-is("${REG}"))`);
    assert.match(await row.textContent(), /Locked: key unavailable/, 'said in words, not only colour');
    assert.match(await row.textContent(), /does not have keys unwrapKey permission/);
    assert.match(await page.locator('.alert[role=alert]').textContent(), /1 of 1 registries is locked/);
    await shot('registries-locked');
    await page.click(`.alert >> text=${REG}`);
    const ts = page.locator('.troubleshoot');
    assert.match(await ts.textContent(), /access policy no longer lets the identity use the key/);
    assert.match(await ts.textContent(), new RegExp(`coffer keyvault set-policy -n ${VAULT} --object-id ${mi.principalId} --key-permissions get wrapKey unwrapKey`));
    await shot('encryption-locked');
  });

  test('restore access, check now: available again', async () => {
    await s.grant(VAULT, mi.principalId);
    await page.goto(`${base}/portal/registries/${REG}/encryption`);
    await page.click('button:has-text("Check now")');
    assert.match(await flash(), /Key check done: the key is available/);
    assert.match(await page.locator('dl.props').textContent(), /Available/);
    assert.equal(await page.locator('.troubleshoot').count(), 0);
    await s.pullSame(layout, REG, 'pull after restore', 'v1', 'team/app');
  });

  test('rotate to a new version (manual rotation)', async () => {
    const v2 = await s.rotateVaultKey(VAULT, 'portalkey');
    const versioned = `${(await s.kvp(REG)).keyIdentifier}/${v2.version}`;
    await page.goto(`${base}/portal/registries/${REG}/encryption`);
    await page.check('input[name=keysource][value=uri]');
    await page.fill('#keyuri', versioned);
    await page.click('button:has-text("Rotate the key")');
    assert.match(await flash(), new RegExp(`Key rotated: the registry now uses ${versioned}`));
    const props = await page.locator('dl.props').textContent();
    assert.match(props, /manual: the registry stays on this version/);
    assert.match(props, new RegExp(v2.version));
    assert.doesNotMatch(props, /Last rotationnever/);
    await shot('encryption');
    const kvp = await s.kvp(REG);
    assert.equal(kvp.versionedKeyIdentifier, versioned);
    assert.equal(kvp.keyRotationEnabled, false);
    await s.pullSame(layout, REG, 'pull after rotation', 'v1', 'team/app');
  });

  test('activity: key events beside the vault audit lines, linked by request id', async () => {
    await page.goto(`${base}/portal/registries/${REG}/activity`);
    const t = await page.locator('table.activity').textContent();
    for (const ev of ['enabled', 'check', 'rotated']) assert.match(t, new RegExp(ev));
    assert.match(t, /denied/);
    assert.match(t, /KeyUnwrap/);
    assert.match(t, /forbidden 403/);
    assert.match(t, /VaultAccessPolicy/);
    // a key event's vault request id links to the vault's own line of it
    const links = page.locator('table.activity a[href^="#v-"]');
    assert.ok(await links.count() > 0, 'linked request ids');
    const id = (await links.first().getAttribute('href')).slice(1);
    const line = page.locator(`tr[id="${id}"]`);
    assert.equal(await line.getAttribute('class'), 'matched');
    assert.match(await line.textContent(), /Vault/);
    await shot('activity');
  });

  test('a cross-site POST is refused, even with the right CSRF token', async () => {
    const csrf = await page.inputValue('form.signout input[name=csrf]');
    const evil = createServer((req, res) => {
      const withToken = req.url.includes('with');
      res.setHeader('content-type', 'text/html');
      res.end(`<form id="f" method="post" action="${base}/portal/registries/new">
        <input name="csrf" value="${withToken ? csrf : 'guess'}"><input name="name" value="evilreg12">
        <input name="sku" value="Premium"><input name="encryption" value="service"></form>
        <script>document.getElementById('f').submit()</script>`);
    });
    await new Promise((r) => evil.listen(0, '127.0.0.1', r));
    const evilUrl = `http://127.0.0.1:${evil.address().port}`;
    try {
      for (const path of ['/without', '/with']) {
        const p = await browser.newPage();
        const answered = p.waitForResponse((r) => r.url() === `${base}/portal/registries/new`);
        await p.goto(`${evilUrl}${path}`);
        const r = await answered;
        assert.ok([401, 403].includes(r.status()), `${path}: ${r.status()}`);
        await p.close();
      }
    } finally {
      evil.close();
    }
    assert.equal((await s.mgmt('GET', '/registries/evilreg12')).status, 404, 'nothing was created');
    // from the portal's own origin with the session, but without the token
    const cookie = (await browser.context.cookies(`${base}/portal/`)).find((c) => c.name === 'coffer_session');
    const r = await raw('/portal/registries/new', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base,
        'sec-fetch-site': 'same-origin', cookie: `coffer_session=${cookie.value}` },
      body: 'name=evilreg13&sku=Premium&encryption=service',
    });
    assert.equal(r.status, 403);
    assert.match(r.text, /CSRF token or origin is wrong/);
    assert.equal((await s.mgmt('GET', '/registries/evilreg13')).status, 404, 'nothing was created');
  });

  test('delete a tag, after a confirmation', async () => {
    await page.goto(`${base}/portal/registries/${REG}/repository?repo=team/app`);
    await page.click('text=Delete tag v2');
    assert.match(await page.locator('main').textContent(), /Delete tag v2 of repository team\/app\?/);
    await page.click('button:has-text("Delete")');
    assert.match(await flash(), /Tag v2 deleted from team\/app/);
    assert.equal(await page.locator('table tbody tr').count(), 1);
    assert.equal((await s.oci(REG, 'team/app').getManifest('v2')).status, 404);
  });

  test("a registry's admin user sees its registry only; sign-out ends the session", async () => {
    await page.goto(`${base}/portal/registries/${REG}/access`);
    await page.click('button:has-text("Enable the admin user")');
    await page.click('button:has-text("Show the passwords")');
    const pw = (await page.locator('code.pw').first().textContent()).trim();
    assert.equal(pw.length, 43);
    await shot('access');
    const other = await browser.newPage();
    await other.context().clearCookies();
    await other.goto(`${base}/portal/signin`);
    await other.fill('#username', REG);
    await other.fill('#password', pw);
    await other.click('button:has-text("Sign in to the registry")');
    await other.waitForURL(`${base}/portal/registries/${REG}`);
    assert.match(await other.locator('main').textContent(), /team\/app/);
    for (const path of ['/portal/registries', '/portal/identities', `/portal/registries/${REG}/access`,
      '/portal/registries/cofferdemo1']) {
      const resp = await other.goto(`${base}${path}`);
      assert.equal(resp.status(), 403, path);
    }
    // sign out: the old cookie no longer opens anything
    await other.goto(`${base}/portal/registries/${REG}`);
    const cookie = (await other.context().cookies(`${base}/portal/`)).find((c) => c.name === 'coffer_session').value;
    await other.click('button:has-text("Sign out")');
    assert.match(await other.locator('h1').textContent(), /Signed out/);
    const r = await raw(`/portal/registries/${REG}`, { headers: { cookie: `coffer_session=${cookie}` } });
    assert.equal(r.status, 303);
    await other.close();
  });
});
