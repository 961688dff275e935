/*
 * stats.c: a small numeric and text toolkit written in the C subset that
 * bench/data/../../tests/data/grammars/c_like.ebnf accepts. Arrays are reached
 * through helper functions (the subset assigns only to plain names), and every
 * loop counts with explicit additions.
 */

// The runtime provides the storage and printing helpers used below:
//   alloc_longs(n), alloc_doubles(n), release(h), load(h, i), store(h, i, v),
//   loadf(h, i), storef(h, i, v), print_long(label, v), print_double(label, v),
//   print_text(text). The subset has no prototypes, so they are only named here.

int verbose = 1;
long call_count = 0;
double epsilon = 0.000001;

/* Greatest common divisor, Euclid's algorithm. */
long gcd(long a, long b) {
  long t = 0;
  call_count += 1;
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    t = a % b;
    a = b;
    b = t;
  }
  return a;
}

long lcm(long a, long b) {
  if (a == 0 || b == 0) return 0;
  return (a / gcd(a, b)) * b;
}

int is_prime(long n) {
  long d = 3;
  if (n < 2) return 0;
  if (n % 2 == 0) return n == 2;
  while (d * d <= n) {
    if (n % d == 0) return 0;
    d = d + 2;
  }
  return 1;
}

// Sieve of Eratosthenes: marks composites in `flags` (1 = prime), returns the count.
long sieve(long flags, long limit) {
  long i = 0;
  long j = 0;
  long count = 0;
  for (i = 0; i <= limit; i = i + 1) store(flags, i, 1);
  store(flags, 0, 0);
  store(flags, 1, 0);
  for (i = 2; i * i <= limit; i = i + 1) {
    if (load(flags, i)) {
      for (j = i * i; j <= limit; j = j + i) {
        store(flags, j, 0);
      }
    }
  }
  for (i = 0; i <= limit; i = i + 1) {
    if (load(flags, i) == 1) count += 1;
  }
  return count;
}

long power(long base, long exponent, long modulus) {
  long result = 1;
  base = base % modulus;
  while (exponent > 0) {
    if (exponent % 2 == 1) {
      result = (result * base) % modulus;
    }
    exponent = exponent / 2;
    base = (base * base) % modulus;
  }
  return result;
}

long fibonacci(long n) {
  long a = 0;
  long b = 1;
  long next = 0;
  long k = 0;
  for (k = 0; k < n; k += 1) {
    next = a + b;
    a = b;
    b = next;
  }
  return a;
}

double square_root(double x) {
  double guess = x / 2.0;
  double previous = 0.0;
  int rounds = 0;
  if (x <= 0.0) return 0.0;
  while (rounds < 50) {
    previous = guess;
    guess = (guess + x / guess) / 2.0;
    if (guess - previous < epsilon && previous - guess < epsilon) return guess;
    rounds = rounds + 1;
  }
  return guess;
}

double mean(long values, long n) {
  double total = 0.0;
  long i = 0;
  if (n == 0) return 0.0;
  for (i = 0; i < n; i = i + 1) total += loadf(values, i);
  return total / n;
}

double variance(long values, long n) {
  double m = mean(values, n);
  double total = 0.0;
  double d = 0.0;
  long i = 0;
  if (n < 2) return 0.0;
  for (i = 0; i < n; i = i + 1) {
    d = loadf(values, i) - m;
    total += d * d;
  }
  return total / (n - 1);
}

/* Insertion sort on longs, in place. */
void sort_longs(long values, long n) {
  long i = 1;
  long j = 0;
  long key = 0;
  while (i < n) {
    key = load(values, i);
    j = i - 1;
    while (j >= 0 && load(values, j) > key) {
      store(values, j + 1, load(values, j));
      j = j - 1;
    }
    store(values, j + 1, key);
    i = i + 1;
  }
}

long binary_search(long values, long n, long target) {
  long low = 0;
  long high = n - 1;
  long middle = 0;
  long probe = 0;
  while (low <= high) {
    middle = low + (high - low) / 2;
    probe = load(values, middle);
    if (probe == target) {
      return middle;
    } else if (probe < target) {
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return -1;
}

long text_length(char *text) {
  long n = 0;
  while (text[n] != '\0') n = n + 1;
  return n;
}

long count_words(char *text) {
  long words = 0;
  long i = 0;
  int inside = 0;
  char c = ' ';
  while (text[i] != '\0') {
    c = text[i];
    if (c == ' ' || c == '\n' || c == '\t') {
      inside = 0;
    } else if (!inside) {
      inside = 1;
      words += 1;
    }
    i = i + 1;
  }
  return words;
}

long checksum(char *text) {
  long sum = 0;
  long i = 0;
  long n = text_length(text);
  for (i = 0; i < n; i = i + 1) {
    sum = (sum * 31 + text[i]) % 1000000007;
  }
  return sum;
}

// Multiplies two n-by-n matrices stored row by row.
void matrix_multiply(long a, long b, long out, long n) {
  long row = 0;
  long col = 0;
  long k = 0;
  double acc = 0.0;
  for (row = 0; row < n; row = row + 1) {
    for (col = 0; col < n; col = col + 1) {
      acc = 0.0;
      for (k = 0; k < n; k = k + 1) {
        acc += loadf(a, row * n + k) * loadf(b, k * n + col);
      }
      storef(out, row * n + col, acc);
    }
  }
}

double trace(long m, long n) {
  double total = 0.0;
  long i = 0;
  for (i = 0; i < n; i = i + 1) total += loadf(m, i * n + i);
  return total;
}

void report(char *label, long value) {
  if (verbose) {
    print_long(label, value);
  }
}

int main() {
  long flags = alloc_longs(1001);
  long numbers = alloc_longs(8);
  long samples = alloc_doubles(6);
  long a = alloc_doubles(4);
  long b = alloc_doubles(4);
  long c = alloc_doubles(4);
  long found = 0;
  char *sentence = "the quick brown fox\tjumps over\nthe lazy dog";

  report("gcd(84, 36)", gcd(84, 36));
  report("lcm(21, 6)", lcm(21, 6));
  report("primes below 1000", sieve(flags, 1000));
  report("is 7919 prime", is_prime(7919));
  report("3^200 mod 1000007", power(3, 200, 1000007));
  report("fib(40)", fibonacci(40));
  print_double("sqrt(2)", square_root(2.0));

  store(numbers, 0, 42);
  store(numbers, 1, 7);
  store(numbers, 2, 19);
  store(numbers, 3, -3);
  store(numbers, 4, 88);
  store(numbers, 5, 0);
  store(numbers, 6, 19);
  store(numbers, 7, 5);
  sort_longs(numbers, 8);
  found = binary_search(numbers, 8, 42);
  report("index of 42", found);

  storef(samples, 0, 2.5);
  storef(samples, 1, 3.75);
  storef(samples, 2, 1.0);
  storef(samples, 3, 4.25);
  storef(samples, 4, 3.0);
  storef(samples, 5, 2.0);
  print_double("mean", mean(samples, 6));
  print_double("variance", variance(samples, 6));

  storef(a, 0, 1.0);
  storef(a, 1, 2.0);
  storef(a, 2, 3.0);
  storef(a, 3, 4.0);
  storef(b, 0, 0.5);
  storef(b, 1, -1.0);
  storef(b, 2, 1.5);
  storef(b, 3, 2.0);
  matrix_multiply(a, b, c, 2);
  print_double("trace(a*b)", trace(c, 2));

  report("words", count_words(sentence));
  report("checksum", checksum(sentence));
  if (call_count > 100) {
    print_text("gcd was called more than a hundred times\n");
  } else {
    print_text("done\n");
  }

  release(flags);
  release(numbers);
  release(samples);
  release(a);
  release(b);
  release(c);
  return 0;
}
