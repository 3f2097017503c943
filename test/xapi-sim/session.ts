/**
 * session.* (§1.4, §6.2): login on the master only (a member answers HOST_IS_SLAVE with the
 * master's address), logout, and the session record. Sessions are shared by both transports.
 */
import type { Sim } from './sim.js';
import { XapiFailure, XDate } from './wire.js';

export function registerSession(sim: Sim): void {
  const { api, store } = sim;
  api.def('session.login_with_password', 'uname:string pwd:string version:string="1.1" originator:string=""', async (ctx, [uname, pwd, , originator]) => {
    if (ctx.host !== sim.master) throw new XapiFailure('HOST_IS_SLAVE', [store.rec('host', sim.master)['address'] as string]);
    if (uname !== sim.options.username || pwd !== sim.options.password) {
      // xapi delays a failed login before it raises (xapi_session.ml, thread_delay_and_raise_error).
      await sim.sleep(50);
      throw new XapiFailure('SESSION_AUTHENTICATION_FAILED', [uname as string, 'Authentication failure']);
    }
    return sim.openSession(uname as string, originator as string, ctx.host);
  }, { session: false });
  api.def('session.logout', '', (ctx) => {
    sim.sessions.delete(ctx.session!);
    return '';
  });
  api.def('session.get_this_host', 'self:ref', (_ctx, [self]) => sim.session(self).host);
  api.def('session.get_uuid', 'self:ref', (_ctx, [self]) => sim.session(self).uuid);
  api.def('session.get_record', 'self:ref', (_ctx, [self]) => {
    const s = sim.session(self);
    return {
      uuid: s.uuid, this_host: s.host, this_user: 'OpaqueRef:NULL', last_active: new XDate(s.lastActive), pool: false, other_config: {},
      is_local_superuser: true, subject: 'OpaqueRef:NULL', validation_time: new XDate(s.lastActive), auth_user_sid: '', auth_user_name: s.user,
      rbac_permissions: [], tasks: [], parent: 'OpaqueRef:NULL', originator: s.originator, client_certificate: false,
    };
  });
}
