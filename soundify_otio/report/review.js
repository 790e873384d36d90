/* The review server's page: a pick re-places its scene on the server, the search box offers the whole
   library, "Write timeline" writes OUT and its choices file, and each scene's picture plays with its mix
   (Web Audio: each sound from its start, looped if shorter, under its pan/gain curves and fades). */
(() => {
  const status = document.getElementById('status');
  const say = text => { status.textContent = text; };

  async function call(path, payload) {
    const options = payload === undefined ? {} : {
      method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(payload),
    };
    const response = await fetch(path, options);
    const data = await response.json().catch(() => ({error: response.statusText}));
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  /* Picks of one scene go to the server one at a time, in order; each sends the picks the page
     showed when the editor made the change, and the latest answer wins. */
  const queues = new Map();

  function replace(index, chosen) {
    const run = async () => {
      const section = document.getElementById(`scene-${index}`);
      say(`re-placing scene ${index + 1} ...`);
      section.classList.add('busy');
      try {
        const data = await call('api/pick', {scene: section.dataset.sceneId, ...chosen});
        const fresh = document.createElement('div');
        fresh.innerHTML = data.html;
        document.getElementById(`scene-${index}`).replaceWith(fresh.firstElementChild);
        say(`scene ${index + 1} re-placed in ${data.seconds.toFixed(2)} s`);
      } catch (error) {
        section.classList.remove('busy');
        say(`not re-placed: ${error.message}`);
      }
    };
    const next = (queues.get(index) || Promise.resolve()).then(run);
    queues.set(index, next);
    return next;
  }

  document.addEventListener('change', event => {
    const input = event.target.closest('input.pick, input.duck, input.duck-depth, input.loop');
    if (!input) return;
    const section = input.closest('section.scene');
    replace(+section.dataset.index, window.soundify.picks(section));
  });

  function resultItem(section, hit) {
    const item = document.createElement('li');
    const listen = document.createElement('button');
    listen.type = 'button'; listen.className = 'audition'; listen.dataset.src = hit.src; listen.textContent = '▶';
    const use = document.createElement('button');
    use.type = 'button'; use.className = 'use-sound';
    use.textContent = hit.kind === 'effect' ? 'add effect' : 'use as ambient';
    use.addEventListener('click', () => {
      const current = document.getElementById(section.id);
      const chosen = window.soundify.picks(current);
      if (hit.kind === 'effect') chosen.effects = [...new Set([...chosen.effects, hit.label])];
      else chosen.ambient = hit.label;
      replace(+current.dataset.index, chosen);
    });
    const text = document.createElement('span');
    text.textContent = `${hit.label} (${hit.kind}, ${hit.score.toFixed(3)}) ${hit.file}`;
    item.append(listen, text, use);
    return item;
  }

  document.addEventListener('submit', async event => {
    const form = event.target.closest('form.search');
    if (!form) return;
    event.preventDefault();
    const section = form.closest('section.scene');
    const list = section.querySelector('ul.search-results');
    try {
      const data = await call('api/search?q=' + encodeURIComponent(form.q.value));
      list.replaceChildren(...data.results.map(hit => resultItem(section, hit)));
    } catch (error) {
      say(`search failed: ${error.message}`);
    }
  });

  document.getElementById('write-timeline').addEventListener('click', async () => {
    say('writing ...');
    try {
      const data = await call('api/write', {});
      say(`wrote ${data.out} and ${data.choices}`);
    } catch (error) {
      say(`not written: ${error.message}`);
    }
  });

  /* ---- the scene's picture with its mix ---- */
  let audio = null, sources = [], stopAt = null;
  const buffers = new Map();

  function stop() {
    sources.forEach(s => { try { s.stop(); } catch (e) { /* already stopped */ } });
    sources = [];
    document.querySelectorAll('video.scene-video').forEach(v => v.pause());
    if (stopAt) clearTimeout(stopAt);
  }

  function automate(param, keys, t0, map) {
    if (!keys.length) return;
    param.setValueAtTime(map(keys[0][1]), t0);
    keys.forEach(([t, v]) => param.linearRampToValueAtTime(map(v), t0 + t));
  }

  async function buffer(src) {
    if (!buffers.has(src)) {
      buffers.set(src, fetch(src).then(r => r.arrayBuffer()).then(data => audio.decodeAudioData(data)));
    }
    return buffers.get(src);
  }

  async function playMix(section) {
    stop();
    audio = audio || new AudioContext();
    await audio.resume();
    const mix = JSON.parse(section.querySelector('script.scene-mix').textContent);
    const video = section.querySelector('video.scene-video');
    const start = +section.dataset.start, end = +section.dataset.end;
    const decoded = await Promise.all(mix.map(p => buffer(p.src).catch(() => null)));
    video.currentTime = +video.dataset.mediaStart;
    const t0 = audio.currentTime + 0.1;
    mix.forEach((p, i) => {
      if (!decoded[i]) return;
      const length = p.end - p.start, at = t0 + (p.start - start);
      const source = audio.createBufferSource();
      source.buffer = decoded[i];
      source.loop = decoded[i].duration < length;
      const fade = audio.createGain(), gain = audio.createGain(), pan = audio.createStereoPanner();
      fade.gain.setValueAtTime(0, at);
      fade.gain.linearRampToValueAtTime(1, at + Math.max(p.fade_in, 0.005));
      fade.gain.setValueAtTime(1, at + length - Math.max(p.fade_out, 0.005));
      fade.gain.linearRampToValueAtTime(0, at + length);
      automate(gain.gain, p.gain_db, at, db => Math.pow(10, db / 20));
      automate(pan.pan, p.pan, at, v => Math.max(-1, Math.min(1, v)));
      source.connect(fade).connect(gain).connect(pan).connect(audio.destination);
      source.start(at);
      source.stop(at + length);
      sources.push(source);
    });
    video.play().catch(() => {});
    const tick = () => {
      if (video.paused) return;
      window.soundify.playhead(start + video.currentTime - +video.dataset.mediaStart);
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    stopAt = setTimeout(stop, (end - start) * 1000 + 100);
  }

  document.addEventListener('click', event => {
    const button = event.target.closest('button.play-mix');
    if (button) playMix(button.closest('section.scene'));
  });

  /* Closing the page ends the server (a reload within a few seconds keeps it). */
  window.addEventListener('pagehide', () => {
    fetch('api/close', {method: 'POST', keepalive: true, headers: {'Content-Type': 'application/json'}, body: '{}'});
  });
})();
