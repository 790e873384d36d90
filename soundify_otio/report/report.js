/* The report's behaviour: playhead, listen buttons, picks, and (static report) the choices download.
   The review server's page adds review.js, which uses window.soundify. */
(() => {
  const preview = document.getElementById('preview-audio');

  function playhead(t) {
    document.querySelectorAll('section.scene svg[data-t0]').forEach(svg => {
      const t0 = +svg.dataset.t0, t1 = +svg.dataset.t1, x0 = +svg.dataset.x0, x1 = +svg.dataset.x1;
      const x = t >= t0 && t <= t1 ? x0 + (t - t0) / (t1 - t0) * (x1 - x0) : -10;
      const line = svg.querySelector('.playhead');
      line.setAttribute('x1', x); line.setAttribute('x2', x);
    });
  }

  /* The picks of one scene as the page shows them. */
  function picks(section) {
    const effects = [...section.querySelectorAll('input.pick[data-kind="effect"]:checked')].map(i => i.value);
    const ambient = section.querySelector('input.pick[data-kind="ambient"]:checked');
    const duck = section.querySelector('input.duck');
    const loop = [...section.querySelectorAll('input.loop:checked')].map(i => i.value);
    /* the dips under the dialogue (review page): a number each, null where the field is empty */
    const depths = Object.fromEntries([...section.querySelectorAll('input.duck-depth')]
      .map(i => [i.dataset.setting, i.value === '' ? null : Number(i.value)]));
    return {effects, ambient: ambient ? ambient.value : '', loop, ...(duck ? {duck: duck.checked} : {}), ...depths};
  }

  /* A TOML basic string: JSON's escapes are TOML's, except that TOML also escapes DEL. */
  function tomlString(text) {
    return JSON.stringify(String(text)).replace(/\u007f/g, '\\u007f');
  }

  function candidates(section, kind) {
    return '[' + [...section.querySelectorAll(`table.top5.${kind}s tr.suggestion`)]
      .filter(row => row.dataset.score !== '')
      .map(row => `[${tomlString(row.dataset.label)}, ${(+row.dataset.score).toFixed(4)}]`).join(', ') + ']';
  }

  /* The choices file `annotate --choices` reads, from the picks on the page. */
  function choicesToml() {
    const body = document.body;
    const lines = [
      `# soundify-otio choices for ${body.dataset.timeline.replace(/[\r\n]/g, ' ')} (picked in the report)`,
      '# Run: soundify-otio annotate TIMELINE -o OUT --library LIBRARY --choices THIS_FILE',
      '',
      `timeline = ${tomlString(body.dataset.timeline)}`,
      `model = ${tomlString(body.dataset.model)}`,
      '',
    ];
    document.querySelectorAll('section.scene[data-scene-id]').forEach(section => {
      const chosen = picks(section);
      const tc = section.querySelector('.tc');
      lines.push(
        '[[scene]]',
        `id = ${tomlString(section.dataset.sceneId)}`,
        `timecode = ${tomlString(tc ? tc.textContent.replace('–', '-') : '')}`,
        `effects = [${chosen.effects.map(tomlString).join(', ')}]`,
        `ambient = ${tomlString(chosen.ambient)}`,
        `effect_candidates = ${candidates(section, 'effect')}`,
        `ambient_candidates = ${candidates(section, 'ambient')}`,
        ...(chosen.loop.length ? ['[scene.loop]', ...chosen.loop.map(label => `${tomlString(label)} = true`)] : []),
        '',
      );
    });
    return lines.join('\n');
  }

  /* One audio element for every listen button, made on the first click (the file stays a link). */
  function audition(button) {
    let listen = document.getElementById('audition');
    if (!listen) {
      listen = document.createElement('audio');
      listen.id = 'audition';
      listen.preload = 'auto';
      document.body.appendChild(listen);
    }
    if (listen.dataset.src === button.dataset.src && !listen.paused) { listen.pause(); return; }
    listen.dataset.src = button.dataset.src;
    listen.src = button.dataset.src;
    listen.play().catch(() => {});
  }

  document.addEventListener('click', event => {
    const button = event.target.closest('button');
    if (!button) return;
    if (button.classList.contains('audition')) audition(button);
    else if (button.classList.contains('play-scene') && preview) {
      preview.currentTime = parseFloat(button.dataset.start); preview.play();
    } else if (button.id === 'download-choices') {
      const link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([choicesToml()], {type: 'application/toml'}));
      link.download = 'choices.toml';
      document.body.appendChild(link); link.click(); link.remove();
    }
  });

  /* In the static report a pick marks its row; the review page re-places the scene instead. */
  document.addEventListener('change', event => {
    const input = event.target.closest('input.pick');
    if (!input || document.body.dataset.mode !== 'report') return;
    const section = input.closest('section.scene');
    const chosen = picks(section);
    section.querySelectorAll('tr.suggestion').forEach(row => {
      const kind = row.closest('table').classList.contains('effects') ? 'effect' : 'ambient';
      const on = kind === 'effect' ? chosen.effects.includes(row.dataset.label) : chosen.ambient === row.dataset.label;
      row.classList.toggle('picked', on);
    });
    section.classList.add('edited');
  });

  if (preview) preview.addEventListener('timeupdate', () => playhead(preview.currentTime));
  window.soundify = {picks, playhead, choicesToml};
})();
