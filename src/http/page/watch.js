// The watch page: polls /channels.json, keeps the table in step with it, and plays the chosen
// channel: HTTP-FLV through mpegts.js where the browser has Media Source Extensions, else the
// channel's HLS where the browser plays HLS itself.
'use strict';
(function () {
  const REFRESH_MS = 3000;
  const RETRY_MS = 3000;
  const byId = (id) => document.getElementById(id);
  const video = byId('video');
  const rows = new Map(); // channel name -> table row
  let channels = new Map(); // channel name -> entry of /channels.json
  let current = null; // {name, player, waiting, retry}

  // `/live/abc` + ext, each path segment escaped.
  function channelPath(name, ext) {
    return '/' + name.split('/').map(encodeURIComponent).join('/') + ext;
  }

  function formatBitrate(bps) {
    if (!bps) return '–';
    if (bps >= 1e6) return (bps / 1e6).toFixed(2) + ' Mb/s';
    return Math.round(bps / 1e3) + ' kb/s';
  }

  function formatUptime(secs) {
    const h = Math.floor(secs / 3600);
    const m = Math.floor((secs % 3600) / 60);
    const s = secs % 60;
    const pad = (n) => String(n).padStart(2, '0');
    return h > 0 ? h + ':' + pad(m) + ':' + pad(s) : m + ':' + pad(s);
  }

  function formatVideo(v) {
    if (!v) return '–';
    return v.width && v.height ? v.codec + ' ' + v.width + '×' + v.height : v.codec;
  }

  function formatAudio(a) {
    if (!a) return '–';
    const parts = [a.codec];
    if (a.sampleRate) parts.push(a.sampleRate / 1000 + ' kHz');
    if (a.channels === 1) parts.push('mono');
    else if (a.channels === 2) parts.push('stereo');
    else if (a.channels) parts.push(a.channels + ' ch');
    return parts.join(' ');
  }

  function cell(className) {
    const td = document.createElement('td');
    if (className) td.className = className;
    return td;
  }

  function newRow(name) {
    const tr = document.createElement('tr');
    tr.dataset.channel = name;
    const nameCell = cell('name');
    const badge = document.createElement('span');
    badge.className = 'badge';
    const link = document.createElement('a');
    link.href = '?play=' + encodeURIComponent(name).replace(/%2F/g, '/');
    link.textContent = name;
    link.addEventListener('click', (e) => {
      e.preventDefault();
      play(name);
    });
    nameCell.append(badge, link);
    const button = document.createElement('button');
    button.textContent = 'Watch';
    button.dataset.play = name;
    button.addEventListener('click', () => play(name));
    const action = cell('action');
    action.append(button);
    tr.append(nameCell, cell('video'), cell('audio'), cell('num bitrate'), cell('num viewers'),
      cell('num uptime'), action);
    return tr;
  }

  function updateRow(tr, c) {
    const set = (selector, text) => { tr.querySelector(selector).textContent = text; };
    const badge = tr.querySelector('.badge');
    badge.textContent = c.live ? 'LIVE' : 'OFF';
    badge.classList.toggle('off', !c.live);
    set('td.video', formatVideo(c.video));
    set('td.audio', formatAudio(c.audio));
    set('td.bitrate', formatBitrate(c.bitrate));
    set('td.viewers', String(c.viewers));
    set('td.uptime', c.live ? formatUptime(c.uptime) : '–');
    const playing = current !== null && current.name === c.name;
    tr.classList.toggle('playing', playing);
    const button = tr.querySelector('button');
    button.textContent = playing ? 'Playing' : 'Watch';
    button.classList.toggle('playing', playing);
    button.disabled = playing || !c.live;
  }

  function render() {
    const body = byId('channels');
    for (const [name, tr] of rows) {
      if (!channels.has(name)) {
        tr.remove();
        rows.delete(name);
      }
    }
    for (const c of channels.values()) {
      let tr = rows.get(c.name);
      if (!tr) {
        tr = newRow(c.name);
        rows.set(c.name, tr);
      }
      body.append(tr); // keeps the server's order (by name)
      updateRow(tr, c);
    }
    byId('empty').hidden = channels.size > 0;
    renderNow();
  }

  function renderNow() {
    const c = current && channels.get(current.name);
    const facts = [];
    if (c && c.live) {
      facts.push(formatVideo(c.video), formatBitrate(c.bitrate));
      facts.push(c.viewers === 1 ? '1 viewer' : c.viewers + ' viewers');
    }
    byId('now-facts').textContent = facts.join(' · ');
  }

  async function refresh() {
    try {
      const response = await fetch('/channels.json', { cache: 'no-store' });
      if (!response.ok) throw new Error('HTTP ' + response.status);
      const list = (await response.json()).channels;
      channels = new Map(list.map((c) => [c.name, c]));
      byId('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
      render();
      if (current && current.waiting) {
        const c = channels.get(current.name);
        if (c && c.live) play(current.name);
      }
    } catch (e) {
      byId('updated').textContent = 'server unreachable (' + e.message + ')';
    }
  }

  // The empty stage with a line of text, or the video.
  function showPlaceholder(text) {
    video.hidden = true;
    byId('placeholder').hidden = false;
    byId('placeholder').textContent = text;
  }

  function showVideo() {
    video.hidden = false;
    byId('placeholder').hidden = true;
  }

  function note(text) {
    byId('note').textContent = text;
  }

  function startVideo() {
    const session = current;
    const stillOn = () => current === session && !session.waiting;
    const started = video.play();
    if (!started) return;
    started.catch(() => {
      if (!stillOn()) return;
      // Without a click on this page the browser allows only muted autoplay.
      video.muted = true;
      video.play().then(
        () => { if (stillOn()) note('Muted: unmute with the player controls.'); },
        () => { if (stillOn()) note('Press play to start.'); });
    });
  }

  function detach() {
    if (!current) return;
    clearTimeout(current.retry);
    if (current.player) {
      current.player.destroy();
      current.player = null;
    }
    video.removeAttribute('src');
    video.load();
  }

  // The stream stopped: play it again once the channel is live.
  function interrupted(name, why) {
    if (!current || current.name !== name) return;
    detach();
    current.waiting = true;
    note(why + ' Retrying when the channel is live.');
    showPlaceholder(name + ' is not playing right now.');
    current.retry = setTimeout(() => {
      const c = channels.get(name);
      if (current && current.name === name && current.waiting && c && c.live) play(name);
    }, RETRY_MS);
  }

  function play(name) {
    detach();
    current = { name: name, player: null, waiting: false, retry: null };
    history.replaceState(null, '', '?play=' + encodeURIComponent(name).replace(/%2F/g, '/'));
    byId('now-name').textContent = name;
    byId('stop').disabled = false;
    showVideo();
    note('');
    if (window.mpegts && mpegts.getFeatureList().mseLivePlayback) {
      const player = mpegts.createPlayer(
        { type: 'flv', isLive: true, url: new URL(channelPath(name, '.flv'), location.href).href },
        {
          enableWorker: false,
          enableStashBuffer: false,
          liveBufferLatencyChasing: true,
          liveBufferLatencyMaxLatency: 3,
          liveBufferLatencyMinRemain: 0.5,
          autoCleanupSourceBuffer: true,
        });
      player.on(mpegts.Events.ERROR, (type, detail) => interrupted(name,
        detail === 'HttpStatusCodeInvalid' ? 'The channel is not live.' : 'Playback stopped (' + detail + ').'));
      player.on(mpegts.Events.LOADING_COMPLETE, () => interrupted(name, 'The stream ended.'));
      player.attachMediaElement(video);
      player.load();
      current.player = player;
      startVideo();
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = channelPath(name, '.m3u8');
      startVideo();
    } else {
      showPlaceholder('This browser plays neither HTTP-FLV (Media Source Extensions) nor HLS.');
    }
    render();
  }

  function stop() {
    detach();
    current = null;
    history.replaceState(null, '', location.pathname);
    byId('now-name').textContent = 'Nothing playing';
    byId('stop').disabled = true;
    showPlaceholder('Choose a channel below to watch it here.');
    note('');
    render();
  }

  byId('stop').addEventListener('click', stop);
  video.addEventListener('playing', () => { if (!video.muted) note(''); });
  // HLS played by the browser itself reports through the element.
  const hlsStopped = (why) => () => {
    if (current && !current.player && !current.waiting && video.getAttribute('src')) {
      interrupted(current.name, why);
    }
  };
  video.addEventListener('error', hlsStopped('The channel is not live.'));
  video.addEventListener('ended', hlsStopped('The stream ended.'));
  const wanted = new URLSearchParams(location.search).get('play');
  if (wanted) play(wanted);
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
