import { describe, expect, it } from 'vitest';
import { splitPassword } from './url';

describe('splitPassword', () => {
  it('moves the password out of the URL', () => {
    expect(splitPassword('postgres://app:s%40cret@db.example:5432/app?sslmode=require')).toEqual({
      url: 'postgres://app@db.example:5432/app?sslmode=require',
      password: 's@cret',
    });
    expect(splitPassword('mysql://root:pw@127.0.0.1:3306/shop')).toEqual({ url: 'mysql://root@127.0.0.1:3306/shop', password: 'pw' });
  });
  it('leaves URLs without one alone', () => {
    expect(splitPassword('postgres://app@db.example/app')).toBeNull();
    expect(splitPassword('sqlite://dev.db')).toBeNull();
    expect(splitPassword('not a url')).toBeNull();
  });
});
