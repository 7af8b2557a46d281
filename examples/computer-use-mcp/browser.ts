/**
 * A fake in-memory "browser" for the computer-use example: a few pages of a small shop, each
 * rendered as a text screen with numbered elements (links, inputs, buttons). No network, no DOM.
 */

export type Element =
  | { kind: 'link'; label: string; href: string }
  | { kind: 'input'; label: string; name: string }
  | { kind: 'button'; label: string; action: 'search' | 'add_to_cart' | 'checkout' };

export interface Page {
  url: string;
  title: string;
  text: string;
  elements: Element[];
}

const PRODUCTS = [
  { id: 'kettle', name: 'Steel kettle 1.7 l', price: 34 },
  { id: 'teapot', name: 'Glass teapot 0.8 l', price: 22 },
  { id: 'mug', name: 'Stoneware mug', price: 9 },
];

/** The browser's state: current page, form values, cart, and a log of actions. */
export class FakeBrowser {
  page: Page;
  readonly history: string[] = [];
  readonly cart: string[] = [];
  private form = new Map<string, string>();

  constructor(readonly home = 'https://shop.example/') {
    this.page = this.render(home);
  }

  /** Loads `url` (unknown URLs give a 404 page). */
  open(url: string): Page {
    this.history.push(`open ${url}`);
    this.form.clear();
    this.page = this.render(url);
    return this.page;
  }

  /** Clicks element `i` of the current page. Throws RangeError for a missing element. */
  click(i: number): Page {
    const el = this.element(i);
    this.history.push(`click ${i} (${el.label})`);
    if (el.kind === 'link') return this.open(el.href);
    if (el.kind === 'input') return this.page;
    if (el.action === 'search') return this.open(`https://shop.example/search?q=${encodeURIComponent(this.form.get('q') ?? '')}`);
    if (el.action === 'add_to_cart') {
      const id = new URL(this.page.url).pathname.split('/').pop()!;
      this.cart.push(id);
      this.page = this.render(this.page.url, `Added ${id} to the cart (${this.cart.length} items).`);
      return this.page;
    }
    return this.open('https://shop.example/cart');
  }

  /** Types `text` into input `i`. Throws RangeError when `i` is not an input. */
  type(i: number, text: string): Page {
    const el = this.element(i);
    if (el.kind !== 'input') throw new RangeError(`element ${i} is a ${el.kind}, not an input`);
    this.history.push(`type ${i} ${JSON.stringify(text)}`);
    this.form.set(el.name, text);
    return this.page;
  }

  private element(i: number): Element {
    const el = this.page.elements[i];
    if (!el) throw new RangeError(`no element ${i} on ${this.page.url} (it has ${this.page.elements.length}: 0..${this.page.elements.length - 1})`);
    return el;
  }

  /** The screen as text: URL, title, body, numbered elements, filled inputs. */
  screen(): string {
    const p = this.page;
    const els = p.elements.map((e, i) => {
      if (e.kind === 'input') return `[${i}] input "${e.label}"${this.form.has(e.name) ? ` = ${JSON.stringify(this.form.get(e.name))}` : ''}`;
      return `[${i}] ${e.kind} "${e.label}"`;
    });
    return [`URL: ${p.url}`, `Title: ${p.title}`, '', p.text, '', ...els].join('\n');
  }

  private render(url: string, notice?: string): Page {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return { url, title: 'Invalid address', text: `"${url}" is not a valid URL.`, elements: [{ kind: 'link', label: 'Home', href: this.home }] };
    }
    const nav: Element[] = [{ kind: 'link', label: 'Home', href: this.home }, { kind: 'link', label: 'Cart', href: 'https://shop.example/cart' }];
    if (u.host !== 'shop.example') return { url, title: 'Not found', text: `This browser only knows shop.example, not ${u.host}.`, elements: nav };
    const path = u.pathname;
    if (path === '/' || path === '') {
      return { url, title: 'Shop — home', text: 'Welcome. Search the catalogue or pick a product.', elements: [...nav, { kind: 'input', label: 'Search', name: 'q' }, { kind: 'button', label: 'Search', action: 'search' }, ...PRODUCTS.map((p): Element => ({ kind: 'link', label: p.name, href: `https://shop.example/product/${p.id}` }))] };
    }
    if (path === '/search') {
      const q = (u.searchParams.get('q') ?? '').toLowerCase();
      const hits = PRODUCTS.filter((p) => q === '' || p.name.toLowerCase().includes(q));
      return { url, title: `Search: ${q}`, text: `${hits.length} results for "${q}".`, elements: [...nav, ...hits.map((p): Element => ({ kind: 'link', label: `${p.name} — ${p.price} EUR`, href: `https://shop.example/product/${p.id}` }))] };
    }
    const m = /^\/product\/([a-z]+)$/.exec(path);
    const product = m && PRODUCTS.find((p) => p.id === m[1]);
    if (product) {
      return { url, title: product.name, text: `${product.name}. Price: ${product.price} EUR.${notice ? `\n${notice}` : ''}`, elements: [...nav, { kind: 'button', label: 'Add to cart', action: 'add_to_cart' }] };
    }
    if (path === '/cart') {
      const total = this.cart.reduce((a, id) => a + (PRODUCTS.find((p) => p.id === id)?.price ?? 0), 0);
      return { url, title: 'Cart', text: this.cart.length ? `Cart: ${this.cart.join(', ')}. Total ${total} EUR.` : 'The cart is empty.', elements: [...nav, { kind: 'button', label: 'Checkout', action: 'checkout' }] };
    }
    return { url, title: 'Not found', text: `No page at ${path}.`, elements: nav };
  }
}
