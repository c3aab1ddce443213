// Ways to hand the page an image: the file picker (a click, or Enter/Space on the drop zone), drag and drop, paste.
import { els } from './render.js';

export function wireUpload(searchFile: (file: File) => void): void {
  els.file.addEventListener('change', () => {
    const f = els.file.files?.[0];
    els.file.value = '';
    if (f) searchFile(f);
  });
  const openPicker = () => {
    if (els.drop.getAttribute('aria-disabled') !== 'true') els.file.click();
  };
  els.drop.addEventListener('click', openPicker);
  els.drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      openPicker();
    }
  });
  els.drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    els.drop.classList.add('over');
  });
  els.drop.addEventListener('dragleave', () => els.drop.classList.remove('over'));
  els.drop.addEventListener('drop', (e) => {
    e.preventDefault();
    els.drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) searchFile(f);
  });
  document.addEventListener('paste', (e) => {
    const f = [...(e.clipboardData?.files ?? [])].find((x) => x.type.startsWith('image/'));
    if (!f) return; // pasted text goes where it was pasted
    e.preventDefault();
    searchFile(f);
  });
}
